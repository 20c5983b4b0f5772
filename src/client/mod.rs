//! The client layer: everything about talking to OpenAI-compatible chat endpoints (OpenAI,
//! Azure's v1 API, vLLM, llama.cpp, Ollama). It owns HTTP, the API key, pacing (requests and
//! tokens per minute), the concurrency cap, timeouts and retries, so no pipeline stage knows
//! about providers.
//!
//! Requests are built with async-openai's types, but sent with our own reqwest loop:
//! async-openai's built-in retries bypass any rate limiter, obey `Retry-After` without a cap,
//! hide the HTTP status of non-OpenAI error bodies and reject replies with an unknown
//! `finish_reason` (see `../shared/NOTES.md`). Here every attempt, first or retry, waits for
//! the limiter.

mod batch;
mod cache;
mod endpoint;
mod halt;
mod health;
mod ledger;
mod pace;
mod ratelimit;
mod retry;
mod served;
mod stats;
mod wire;

pub use batch::{
    BatchLine, BatchOptions, MAX_LINES as BATCH_MAX_LINES, parse_lines as parse_batch_lines,
};
pub use cache::{
    Cache, CacheError, CacheInfo, CacheMode, Claim, PruneFilter, cache_key, claim_owner,
    default_cache_path, served_key,
};
pub use halt::Halt;
pub use ledger::{
    Account, Ledger, Price, Spend, SpendRow, Stage, add_rows, spend_rows, total_cost,
};
pub use pace::Limits;
pub use ratelimit::{RateHeaders, parse_duration};
pub use retry::{RetryPolicy, parse_retry_after};
pub use served::Served;
pub use stats::{ClientStats, Holdup};
pub use wire::{ChatRequest, Message, Role};

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Notify;

use crate::types::Usage;
use endpoint::Endpoint;

/// Where and how to reach one OpenAI-compatible API.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Base URL including `/v1`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Name of the environment variable holding the API key; `None` sends no key.
    pub api_key_env: Option<String>,
    /// Requests per minute (`None`: unlimited).
    pub rpm: Option<NonZeroU32>,
    /// Tokens per minute, prompt plus completion cap (`None`: unlimited).
    pub tpm: Option<NonZeroU32>,
    /// Requests in flight at once (`None`: as many as the limits and latency call for).
    pub concurrency: Option<usize>,
    /// Limit on one attempt, from sending to the last byte of the reply.
    pub timeout: Duration,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// Whether the server honours `response_format` with a JSON schema (judge verdicts are
    /// then asked for as schema-constrained JSON).
    pub structured_verdicts: bool,
    /// Requests go through the Batch API, polled first after this (`None`: one by one).
    pub batch: Option<Duration>,
    /// The largest reply body read (`--max-reply-bytes`); a larger one fails the request.
    pub max_reply_bytes: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        use crate::config::defaults;
        Self {
            base_url: defaults::BASE_URL.into(),
            api_key_env: Some(defaults::API_KEY_ENV.into()),
            rpm: None,
            tpm: None,
            concurrency: None,
            timeout: Duration::from_secs(defaults::TIMEOUT_SECS),
            retry: RetryPolicy::default(),
            structured_verdicts: false,
            batch: None,
            max_reply_bytes: defaults::MAX_REPLY_BYTES,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("response has no choices")]
    NoChoices,
    /// A reply with nothing to read: `content: null`, or only a tool call.
    #[error("no content ({0})")]
    NoContent(String),
    /// A reply over the size cap (`--max-reply-bytes`): not read further, not stored.
    #[error("the reply is over {0} bytes (--max-reply-bytes)")]
    TooLarge(usize),
    /// A 200 whose body is an error object: the provider's own message.
    #[error("the provider answered with an error: {message}")]
    Provider {
        message: String,
        /// Whether its type says the fault is passing (overloaded, a server error).
        passing: bool,
    },
    /// Not sent: the run is stopping (Ctrl-C, SIGTERM, or an output that cannot be written).
    #[error("not sent: the run is stopping")]
    Stopped,
    #[error("the provider refused or filtered the reply ({0})")]
    Refused(String),
    #[error("{0}")]
    Config(String),
    /// The endpoint stopped answering earlier in the run (see `health`).
    #[error("{0}")]
    Unreachable(String),
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        attempts: u32,
        last: Box<ClientError>,
    },
}

/// Whether a failed request is worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A passing fault (the network, 429, 5xx, a timeout): retried up to `--max-attempts`.
    Transient,
    /// A reply that came back wrong (not JSON, no choices, no content, too large, an error
    /// object): the same request is likely to fail the same way, and every try is billed,
    /// so it is tried once more at most.
    Deterministic,
    /// Asking again cannot help (a 4xx, a refusal, bad settings, a run that is stopping).
    Never,
}

/// How many times a request that failed deterministically is sent in all.
pub const DETERMINISTIC_TRIES: u32 = 2;

impl ClientError {
    /// Whether another attempt might succeed, and how many it is worth.
    pub fn retry(&self) -> Retry {
        match self {
            ClientError::Status { status, .. } => {
                if matches!(status, 408 | 409 | 425 | 429) || *status >= 500 {
                    Retry::Transient
                } else {
                    Retry::Never
                }
            }
            ClientError::Timeout(_) | ClientError::Connect(_) => Retry::Transient,
            ClientError::Provider { passing: true, .. } => Retry::Transient,
            ClientError::Malformed(_)
            | ClientError::NoChoices
            | ClientError::NoContent(_)
            | ClientError::TooLarge(_)
            | ClientError::Provider { .. } => Retry::Deterministic,
            ClientError::Refused(_)
            | ClientError::Config(_)
            | ClientError::Unreachable(_)
            | ClientError::Stopped
            | ClientError::GaveUp { .. } => Retry::Never,
        }
    }

    /// Whether another attempt might succeed at all.
    pub fn is_retryable(&self) -> bool {
        self.retry() != Retry::Never
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A successful completion.
#[derive(Debug, Clone, Default)]
pub struct ChatResponse {
    /// The assistant's text.
    pub content: String,
    /// Why generation stopped, as the server said it (`stop`, `length`, …).
    pub finish_reason: String,
    /// Tokens billed for this call (estimated when the server reports none: see
    /// `usage_estimated`).
    pub usage: Usage,
    /// The server sent no `usage`: the tokens are estimated from the text's bytes.
    pub usage_estimated: bool,
    /// Attempts it took, the successful one included (0 when served from the cache).
    pub attempts: u32,
    /// The body had bytes that are not UTF-8, replaced by U+FFFD.
    pub invalid_utf8: bool,
}

/// The Batch API queue of one endpoint, shared by the clients that send there.
#[derive(Clone)]
pub struct BatchQueue(Arc<batch::Batcher>);

/// A client for one model's endpoints (one, or several replicas, keys or regions that share
/// its load); clone it freely (clones share limits and counters).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoints: Vec<Endpoint>,
    ledger: Ledger,
    /// Told whenever a slot frees (see [`Client::take_slot`]).
    freed: Arc<Notify>,
    stats: ClientStats,
    cache: Option<Arc<Cache>>,
    cache_mode: CacheMode,
    /// Requests go through the Batch API (`--batch`).
    batcher: Option<Arc<batch::Batcher>>,
    /// The run's stop switch: once halted, nothing new is sent.
    halt: Arc<Halt>,
    /// What the endpoints serve, by API model name (see [`Client::identify`]).
    served: std::sync::Mutex<std::collections::HashMap<String, Identity>>,
}

/// What answers a model on a client's endpoints, as the response cache files it: each
/// endpoint's URL and the weights it said it serves (empty: nothing but the name; `?`:
/// unknown, it did not answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The text the cache key is made from (`url=…;weights=…`, endpoints joined by ` + `).
    pub text: String,
    /// Whether replies stored before identities were kept may be served: every endpoint
    /// states no weights (the name alone was, and is, the identity).
    pub legacy: bool,
}

impl Identity {
    fn of<'a>(parts: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Identity {
        let mut parts: Vec<(&str, Option<&str>)> = parts.collect();
        parts.sort();
        let legacy = parts.iter().all(|(_, w)| *w == Some(""));
        let text = parts
            .iter()
            .map(|(u, w)| format!("url={u};weights={}", w.unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(" + ");
        Identity { text, legacy }
    }
}

/// How long a claim on a request in flight lasts unless its process renews it.
const CLAIM_TTL: Duration = Duration::from_secs(30);

/// Renews this process's claims on `cache` while the cache is open (one task per cache).
fn heartbeat(cache: &Arc<Cache>) {
    if !cache.start_heartbeat() {
        return;
    }
    let weak = Arc::downgrade(cache);
    tokio::spawn(async move {
        let owner = claim_owner();
        loop {
            tokio::time::sleep(CLAIM_TTL / 3).await;
            let Some(cache) = weak.upgrade() else { return };
            let o = owner.clone();
            let _ = tokio::task::spawn_blocking(move || cache.renew_claims(&o, CLAIM_TTL)).await;
        }
    });
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Client");
        for e in &self.inner.endpoints {
            d.field("url", &e.url)
                .field("api_key", &e.api_key.as_ref().map(|_| "<redacted>"))
                .field("pace", &e.pace);
        }
        d.finish()
    }
}

impl Client {
    /// Builds a client for one endpoint (see [`Client::pool`]).
    pub fn new(config: EndpointConfig) -> Result<Self, ClientError> {
        Self::pool(vec![config])
    }

    /// Builds a client whose requests go to whichever of `configs` can take each soonest,
    /// reading each API key from its configured environment variable. A missing key is an
    /// error for a remote endpoint (every request would fail with 401), but not for a server
    /// on this machine, which usually wants none.
    pub fn pool(configs: Vec<EndpointConfig>) -> Result<Self, ClientError> {
        let with_keys = configs
            .into_iter()
            .map(|c| {
                let key = api_key(&c)?;
                Ok((c, key))
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        Self::build(with_keys)
    }

    /// A client that reads no API key: for counting what requests would be (`shinpan
    /// estimate`), never for sending them to a provider that needs one.
    pub fn unkeyed(configs: Vec<EndpointConfig>) -> Result<Self, ClientError> {
        Self::build(configs.into_iter().map(|c| (c, None)).collect())
    }

    /// Builds a client with an explicit key (tests, or keys from elsewhere).
    pub fn with_key(config: EndpointConfig, api_key: Option<String>) -> Result<Self, ClientError> {
        Self::build(vec![(config, api_key)])
    }

    fn build(endpoints: Vec<(EndpointConfig, Option<String>)>) -> Result<Self, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if endpoints.is_empty() {
            return Err(ClientError::Config("a client needs an endpoint".into()));
        }
        let freed = Arc::new(Notify::new());
        let endpoints = endpoints
            .into_iter()
            .map(|(c, k)| Endpoint::new(c, k, freed.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                endpoints,
                ledger: Ledger::default(),
                freed,
                stats: ClientStats::default(),
                cache: None,
                cache_mode: CacheMode::Off,
                batcher: None,
                halt: Arc::default(),
                served: Default::default(),
            }),
        })
    }

    /// Puts a response cache in front of this client. Call it before cloning the client.
    pub fn with_cache(mut self, cache: Option<Arc<Cache>>, mode: CacheMode) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("with_cache is called before cloning");
        inner.cache = cache.filter(|_| mode != CacheMode::Off);
        inner.cache_mode = if inner.cache.is_some() {
            mode
        } else {
            CacheMode::Off
        };
        self
    }

    /// A batch queue on this client's first endpoint, writing its batches down in
    /// `opts.dir`: give it to every client of that endpoint ([`Client::with_batch`]), so their
    /// requests share batches and one record of them.
    pub fn batch_queue(&self, opts: BatchOptions) -> Result<BatchQueue, ClientError> {
        let ep = &self.inner.endpoints[0];
        Ok(BatchQueue(Arc::new(batch::Batcher::new(
            &ep.config.base_url,
            ep.api_key.clone(),
            ep.config.timeout,
            ep.config.retry.max_attempts,
            opts,
        )?)))
    }

    /// Sends this client's requests through `queue` (see [`Client::batch_queue`]). Call it
    /// before cloning the client.
    pub fn with_batch(mut self, queue: &BatchQueue) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("with_batch is called before cloning");
        inner.batcher = Some(queue.0.clone());
        self
    }

    /// Shares the run's stop switch (see [`Halt`]). Call it before cloning the client.
    pub fn with_halt(mut self, halt: Arc<Halt>) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("with_halt is called before cloning");
        inner.halt = halt;
        self
    }

    /// Whether two handles are the same client (the same endpoints, limits and counters).
    pub fn same(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether requests go through the Batch API.
    pub fn batched(&self) -> bool {
        self.inner.batcher.is_some()
    }

    /// The first endpoint's settings (what every endpoint of a pool is assumed to support,
    /// such as structured verdicts).
    pub fn config(&self) -> &EndpointConfig {
        &self.inner.endpoints[0].config
    }

    /// What was spent so far, by model and stage.
    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// Counters so far, over all endpoints.
    pub fn stats(&self) -> &ClientStats {
        &self.inner.stats
    }

    /// Requests that may be in flight now, over all endpoints (slots grow as limits and
    /// latency become known unless `--concurrency` fixes them).
    pub fn slots(&self) -> usize {
        if self.inner.batcher.is_some() {
            // A batched request holds no connection: a whole batch may wait at once.
            return batch::MAX_LINES / 4;
        }
        self.inner.endpoints.iter().map(Endpoint::slots).sum()
    }

    /// The limits each endpoint's provider stated so far, by base URL.
    pub fn learned_limits(&self) -> Vec<(String, Limits)> {
        self.inner
            .endpoints
            .iter()
            .map(|e| (e.config.base_url.clone(), e.pace.learned()))
            .collect()
    }

    /// What this client's endpoints serve as `api_model`, as the response cache knows them
    /// (see [`served`]): set by [`Client::identify`]; before it, each endpoint's URL with
    /// nothing told (the identity of a hosted API).
    pub fn identity(&self, api_model: &str) -> Identity {
        let known = self.inner.served.lock().unwrap_or_else(|p| p.into_inner());
        known.get(api_model).cloned().unwrap_or_else(|| {
            Identity::of(
                self.inner
                    .endpoints
                    .iter()
                    .map(|e| (e.config.base_url.as_str(), Some(""))),
            )
        })
    }

    /// Asks each endpoint what it serves as each of `api_models` (`GET /v1/models`), before
    /// anything is sent, and files replies under those identities from now on. An endpoint
    /// that does not answer takes the identity it last had if that was a name alone (a
    /// hosted API stays cacheable), else an unknown one that no stored reply matches.
    /// Returns, per model, what each endpoint said.
    pub async fn identify(&self, api_models: &[String]) -> Vec<(String, Vec<(String, Served)>)> {
        let mut out = Vec::new();
        for m in api_models {
            let mut said = Vec::new();
            let mut parts: Vec<(String, Option<String>)> = Vec::new();
            for e in &self.inner.endpoints {
                let url = e.config.base_url.clone();
                let served = served::probe(&e.http, &url, e.api_key.as_deref(), m).await;
                let weights = match served.weights() {
                    Some(w) => {
                        let (u, model, w2) = (url.clone(), m.clone(), w.to_string());
                        self.with_cache_file(move |c| c.saw_served(&u, &model, &w2))
                            .await;
                        Some(w.to_string())
                    }
                    None => {
                        let (u, model) = (url.clone(), m.clone());
                        // Only a name alone is trusted without the server's word.
                        self.with_cache_file(move |c| c.last_served(&u, &model))
                            .await
                            .flatten()
                            .filter(|w| w.is_empty())
                    }
                };
                parts.push((url.clone(), weights));
                said.push((url, served));
            }
            let id = Identity::of(parts.iter().map(|(u, w)| (u.as_str(), w.as_deref())));
            self.inner
                .served
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(m.clone(), id);
            out.push((m.clone(), said));
        }
        out
    }

    /// The key `req` is filed under in the response cache: the request and what this
    /// client's endpoints serve (the `custom_id` of batch lines too).
    pub fn key_of(&self, req: &ChatRequest) -> String {
        served_key(&self.identity(&req.model).text, &cache_key(req))
    }

    /// Sends one chat completion, pacing, retrying and timing out as configured; served from
    /// the response cache when it holds the same request to the same served model, and
    /// stored there before returning. While this process asks, others on the same cache file
    /// wait for its reply rather than paying for it again.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, ClientError> {
        let mode = self.inner.cache_mode;
        let cached = self.inner.cache.is_some() && mode != CacheMode::Off;
        if !cached && self.inner.batcher.is_none() {
            // No cache and no batch: nothing needs the request's key.
            let (resp, slot) = self.send(req).await?;
            drop(slot);
            self.book(req, &resp);
            return Ok(resp);
        }
        let id = self.identity(&req.model);
        let request = cache_key(req);
        let key = served_key(&id.text, &request);
        if cached
            && matches!(mode, CacheMode::Use | CacheMode::ReadOnly)
            && let Some(hit) = self.lookup(&key, &request, id.legacy).await
        {
            self.book_hit(req);
            return Ok(hit);
        }
        // Claimed while it is asked: another process on this cache waits for the reply.
        let claimed = cached && mode != CacheMode::ReadOnly;
        if claimed && let Some(hit) = self.claim(&key).await? {
            self.book_hit(req);
            return Ok(hit);
        }
        let (sent, slot) = match self.ask(req, &key).await {
            Ok((r, slot)) => (Ok(r), slot),
            Err(e) => (Err(e), None),
        };
        if claimed {
            let k = key.clone();
            let owner = claim_owner();
            // A reply goes into the cache before the claim goes (they are one step for the
            // waiting process, which reads the reply once the claim is gone).
            if let Ok(resp) = &sent {
                let (model, stored, served) = (req.model.clone(), resp.clone(), id.text.clone());
                let r = request.clone();
                self.with_cache_file(move |c| {
                    c.put(&k, (&r, &served), &model, &stored)?;
                    c.release(&k, &owner)
                })
                .await;
            } else {
                self.with_cache_file(move |c| c.release(&k, &owner)).await;
            }
        }
        drop(slot);
        let resp = sent?;
        self.book(req, &resp);
        Ok(resp)
    }

    /// Books a reply the API made to its model and stage.
    fn book(&self, req: &ChatRequest, resp: &ChatResponse) {
        if let Some(a) = &req.account {
            let batched = self.inner.batcher.is_some();
            self.inner
                .ledger
                .book_as(a, Some(resp.usage), batched, resp.usage_estimated);
        }
    }

    fn book_hit(&self, req: &ChatRequest) {
        if let Some(a) = &req.account {
            self.inner.ledger.book(a, None);
        }
    }

    /// A stored reply for `key` (or, where the identity allows, one stored before identities
    /// were kept).
    async fn lookup(&self, key: &str, request: &str, legacy: bool) -> Option<ChatResponse> {
        let (k, r) = (key.to_string(), request.to_string());
        self.with_cache_file(move |c| match c.get(&k)? {
            Some(hit) => Ok(Some(hit)),
            None if legacy => c.get_legacy(&r),
            None => Ok(None),
        })
        .await
        .flatten()
    }

    /// Claims `key` for this process. `Ok(Some(reply))` when another process held it and its
    /// reply arrived meanwhile (in `--refresh`, only a reply stored after this wait began);
    /// `Ok(None)` to send the request. A claim whose holder died expires (at once when it
    /// ran on this machine), and then this process takes it.
    async fn claim(&self, key: &str) -> Result<Option<ChatResponse>, ClientError> {
        let Some(cache) = self.inner.cache.clone() else {
            return Ok(None);
        };
        heartbeat(&cache);
        let owner = claim_owner();
        // In --refresh, only a reply stored after this point is fresh: one stored later than
        // what the key holds now.
        let since = match self.inner.cache_mode {
            CacheMode::Refresh => {
                let k = key.to_string();
                self.with_cache_file(move |c| c.created(&k))
                    .await
                    .flatten()
                    .unwrap_or(i64::MIN)
            }
            _ => i64::MIN,
        };
        let mut pause = Duration::from_millis(20);
        let refresh = self.inner.cache_mode == CacheMode::Refresh;
        loop {
            let (k, o) = (key.to_string(), owner.clone());
            let claimed = self
                .with_cache_file(move |c| {
                    Ok(match c.claim(&k, &o, CLAIM_TTL)? {
                        // Another process may have stored the reply and let its claim go
                        // between this process's lookup and its claim: looked up again.
                        Claim::Mine => {
                            let hit = if refresh {
                                c.get_since(&k, since)?
                            } else {
                                c.get(&k)?
                            };
                            if hit.is_some() {
                                c.release(&k, &o)?;
                            }
                            Ok(hit)
                        }
                        Claim::Theirs => Err(()),
                    })
                })
                .await;
            match claimed {
                // No cache to share (it failed): this process asks.
                None | Some(Ok(None)) => return Ok(None),
                Some(Ok(Some(hit))) => {
                    self.inner.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(hit));
                }
                Some(Err(())) => {}
            }
            self.inner
                .stats
                .waiting_claim
                .fetch_add(1, Ordering::Relaxed);
            // Another process asks: its reply lands under the same key.
            let waited = loop {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = self.inner.halt.halted() => break Err(ClientError::Stopped),
                }
                pause = (pause * 2).min(Duration::from_millis(500));
                let (k, o) = (key.to_string(), owner.clone());
                let seen = self
                    .with_cache_file(move |c| {
                        let hit = if refresh {
                            c.get_since(&k, since)?
                        } else {
                            c.get(&k)?
                        };
                        Ok(match hit {
                            Some(h) => Some(Ok(h)),
                            None if !c.claimed_by_other(&k, &o)? => Some(Err(())),
                            None => None,
                        })
                    })
                    .await;
                match seen {
                    Some(Some(Ok(hit))) => break Ok(Some(hit)),
                    // The claim went without a reply (the other failed, or died): claim again.
                    Some(Some(Err(()))) | None => break Ok(None),
                    Some(None) => {}
                }
            };
            self.inner
                .stats
                .waiting_claim
                .fetch_sub(1, Ordering::Relaxed);
            match waited? {
                Some(hit) => {
                    self.inner.stats.shared_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(hit));
                }
                None => continue,
            }
        }
    }

    /// Asks the API (directly, or through the Batch API), with the slot its reply holds.
    async fn ask(
        &self,
        req: &ChatRequest,
        key: &str,
    ) -> Result<(ChatResponse, Option<Slot<'_>>), ClientError> {
        let Some(b) = &self.inner.batcher else {
            return self.send(req).await;
        };
        let body =
            serde_json::to_value(req.to_body()).map_err(|e| ClientError::Config(e.to_string()))?;
        let stats = &self.inner.stats;
        let halt = &self.inner.halt;
        if halt.is_halted() {
            return Err(ClientError::Stopped);
        }
        // A halted run stops waiting: the batch is written down in OUT/batches and a
        // restarted run polls it again.
        let result = tokio::select! {
            r = b.chat(key.to_string(), body) => r,
            _ = halt.halted() => return Err(ClientError::Stopped),
        };
        match &result {
            Ok(r) => {
                stats
                    .attempts
                    .fetch_add(u64::from(r.attempts), Ordering::Relaxed);
                stats.succeeded.fetch_add(1, Ordering::Relaxed);
                stats.tokens.fetch_add(r.usage.total(), Ordering::Relaxed);
            }
            Err(_) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        result.map(|r| (r, None))
    }

    /// Drops the cached response to `req`: a reply that was delivered but is unusable (a
    /// judge reply without a readable verdict) must be asked for again by a later run, not
    /// served from the cache forever.
    pub async fn forget(&self, req: &ChatRequest) {
        let id = self.identity(&req.model);
        let request = cache_key(req);
        let key = served_key(&id.text, &request);
        self.with_cache_file(move |c| {
            c.remove(&key)?;
            if id.legacy
                && let Some(_) = c.get_legacy(&request)?
            {
                c.remove(&request)?;
            }
            Ok(())
        })
        .await;
    }

    /// Runs a blocking cache operation off the async threads. `None` when there is no cache
    /// or the operation failed: a failing cache must not stop a run that can still reach the
    /// API, so the first failure is reported and the run goes on without it.
    async fn with_cache_file<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Cache) -> Result<T, CacheError> + Send + 'static,
    ) -> Option<T> {
        let cache = self.inner.cache.clone()?;
        let err = match tokio::task::spawn_blocking(move || op(&cache)).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) if e.is_full() => {
                // Replies that cannot be stored are paid for and kept nowhere: nothing more
                // is sent. (The reply in hand still goes to the run's files if they can
                // take it.)
                // The drive says it, and stops: no warning of its own here.
                self.inner
                    .halt
                    .halt(format!("No space left on device: {e}"));
                return None;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        if self
            .inner
            .stats
            .cache_errors
            .fetch_add(1, Ordering::Relaxed)
            == 0
        {
            eprintln!("shinpan: warning: {err}; going on without the cache for this request");
        }
        None
    }

    /// A slot on the endpoint that can send soonest (the earliest next instant under its
    /// pace) among those still answering and with a slot free, waiting for one to free when
    /// none is. A request is bound to an endpoint only once it can go there: one queued
    /// early would be stuck behind a slower endpoint's pace. `Err` with why when no
    /// endpoint is answering.
    async fn take_slot(&self) -> Result<(&Endpoint, Slot<'_>), ClientError> {
        let inner = &self.inner;
        let _waiting = stats::Gauge::enter(&inner.stats.waiting_slot);
        loop {
            let freed = inner.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let mut up: Vec<&Endpoint> = inner
                .endpoints
                .iter()
                .filter(|e| e.health.down().is_none())
                .collect();
            if up.is_empty() {
                let why: Vec<&str> = inner
                    .endpoints
                    .iter()
                    .filter_map(|e| e.health.down())
                    .collect();
                return Err(ClientError::Unreachable(why.join("; ")));
            }
            up.sort_by_key(|e| e.pace.peek());
            for e in up {
                if let Some(permit) = e.try_slot() {
                    let slot = Slot {
                        permit: Some(permit),
                        freed: &inner.freed,
                    };
                    return Ok((e, slot));
                }
            }
            if tokio::time::timeout(endpoint::PROBE_WAIT, freed)
                .await
                .is_err()
            {
                inner.endpoints.iter().for_each(Endpoint::probe_overdue);
            }
        }
    }

    async fn send(
        &self,
        req: &ChatRequest,
    ) -> Result<(ChatResponse, Option<Slot<'_>>), ClientError> {
        let policy = self.config().retry;
        let body = req.to_body();
        let stats = &self.inner.stats;
        let mut attempt = 0u32;
        // Replies that came back wrong so far (see `Retry::Deterministic`).
        let mut wrong = 0u32;
        let halt = &self.inner.halt;
        loop {
            attempt += 1;
            let taken = tokio::select! {
                t = self.take_slot() => t,
                _ = halt.halted() => Err(ClientError::Stopped),
            };
            let (ep, slot) = match taken {
                Ok(taken) => taken,
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            };
            let bytes = req.prompt_bytes();
            let prompt = ep.pace.prompt_tokens(bytes);
            let result = {
                tokio::select! {
                    _ = ep.wait_pace(prompt.saturating_add(req.max_tokens), stats) => {}
                    _ = halt.halted() => {}
                }
                if halt.is_halted() {
                    // Nothing was sent: a halted run sends nothing new.
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(ClientError::Stopped);
                }
                if ep.health.down().is_some() {
                    // It went down while this request waited: another endpoint may take it
                    // (or `take_slot` says why none can). Nothing was sent.
                    attempt -= 1;
                    continue;
                }
                let _sent = stats::Gauge::enter(&stats.in_flight);
                ep.attempt(&body, (prompt, bytes), stats).await
            };
            ep.health.observe(&ep.config.base_url, &result);
            match result {
                Ok(mut resp) => {
                    resp.attempts = attempt;
                    if resp.usage_estimated {
                        stats.usage_estimated.fetch_add(1, Ordering::Relaxed);
                    }
                    stats.succeeded.fetch_add(1, Ordering::Relaxed);
                    stats
                        .tokens
                        .fetch_add(resp.usage.total(), Ordering::Relaxed);
                    // The slot is held until the caller has stored the reply: a request
                    // waiting for it is not sent before a store that fails halts the run.
                    return Ok((resp, Some(slot)));
                }
                Err(e) if attempt < policy.max_attempts && worth_again(&e, &mut wrong) => {
                    drop(slot);
                    tokio::select! {
                        _ = tokio::time::sleep(policy.delay(attempt, e.retry_after())) => {}
                        _ = halt.halted() => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                            return Err(ClientError::Stopped);
                        }
                    }
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    let e = redact(&ep.api_key, e);
                    return Err(if attempt > 1 {
                        ClientError::GaveUp {
                            attempts: attempt,
                            last: Box::new(e),
                        }
                    } else {
                        e
                    });
                }
            }
        }
    }
}

/// Whether a failed attempt is sent again: passing faults are, up to the attempt limit; a reply
/// that came back wrong is, until it has come back wrong [`DETERMINISTIC_TRIES`] times.
fn worth_again(e: &ClientError, wrong: &mut u32) -> bool {
    match e.retry() {
        Retry::Transient => true,
        Retry::Deterministic => {
            *wrong += 1;
            *wrong < DETERMINISTIC_TRIES
        }
        Retry::Never => false,
    }
}

/// A slot taken on one endpoint; freeing it tells the requests waiting for one.
struct Slot<'a> {
    permit: Option<tokio::sync::SemaphorePermit<'a>>,
    freed: &'a Notify,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // The permit goes back first, so the request woken finds it.
        drop(self.permit.take());
        self.freed.notify_one();
    }
}

/// The API key from the endpoint's environment variable, if it names one.
fn api_key(config: &EndpointConfig) -> Result<Option<String>, ClientError> {
    let Some(var) = &config.api_key_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => {
            let key = v.trim();
            // A key with a break inside is a paste gone wrong: as a header it cannot be sent,
            // and every request would fail as if the endpoint were down.
            if key.contains(['\n', '\r']) {
                return Err(ClientError::Config(format!(
                    "environment variable {var} holds an API key with a line break inside it: a key is one line (check how the variable was set)"
                )));
            }
            if let Some(c) = key.chars().find(|c| !c.is_ascii_graphic()) {
                return Err(ClientError::Config(format!(
                    "environment variable {var} holds an API key with {} inside it, which cannot be sent in a header: a key is printable ASCII without spaces",
                    if c.is_whitespace() {
                        "a space".to_string()
                    } else {
                        format!("the character U+{:04X}", c as u32)
                    }
                )));
            }
            Ok(Some(key.to_string()))
        }
        _ if is_loopback(&config.base_url) => Ok(None),
        _ => Err(ClientError::Config(format!(
            "environment variable {var} is not set, and {} needs an API key \
             (--api-key-env VAR names another variable; --api-key-env \"\" sends none)",
            config.base_url
        ))),
    }
}

fn redact(key: &Option<String>, e: ClientError) -> ClientError {
    let Some(key) = key else {
        return e;
    };
    let msg = e.to_string();
    if key.len() >= 4 && msg.contains(key.as_str()) {
        ClientError::Config(msg.replace(key.as_str(), "<redacted>"))
    } else {
        e
    }
}

/// Whether a base URL points at this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    matches!(host, "localhost" | "[::1]") || host.starts_with("127.")
}

/// A transport error in a few words: what failed, then the root cause ("connect:
/// Connection refused (os error 111)"), without reqwest's nesting, which repeats the URL and
/// would hide the cause when failures are grouped and shortened.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "reading the reply"
    } else if e.is_request() {
        "sending the request"
    } else {
        "HTTP"
    };
    let mut root: &dyn std::error::Error = e;
    while let Some(inner) = root.source() {
        root = inner;
    }
    let root = root.to_string();
    if root == e.to_string() {
        format!("{what}: {}", crate::util::error_chain(e))
    } else {
        format!("{what}: {root}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(is_loopback("http://[::1]:8000/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let c = Client::with_key(
            EndpointConfig {
                base_url: "http://127.0.0.1:1/v1".into(),
                ..Default::default()
            },
            Some("sk-secret-123\n".into()),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("sk-secret") && dbg.contains("<redacted>"),
            "{dbg}"
        );
    }
}
