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

mod adapt;
mod batch;
mod cache;
mod cached;
mod endpoint;
mod error;
mod halt;
mod health;
mod keys;
mod ledger;
mod pace;
mod ratelimit;
mod retry;
mod send;
mod served;
mod slots;
mod stats;
mod wire;

pub use crate::records::spend::{Account, Price, Spend, SpendRow, Stage, add_rows, total_cost};
pub use batch::{
    BatchLine, BatchOptions, MAX_LINES as BATCH_MAX_LINES, parse_lines as parse_batch_lines,
};
pub use cache::{
    Cache, CacheError, CacheInfo, CacheMode, Claim, PruneFilter, cache_key, claim_owner,
    default_cache_path, served_key,
};
pub use cached::Identity;
pub(crate) use error::describe;
pub use error::{ClientError, DETERMINISTIC_TRIES, Retry};
pub use halt::Halt;
use keys::api_key;
pub use ledger::Ledger;
pub use pace::Limits;
pub use ratelimit::{RateHeaders, parse_duration};
pub use retry::{RetryPolicy, parse_retry_after};
use send::Slot;
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
    /// Requests in flight at once (`None`: auto, as many as the limits and latency call for,
    /// or the server takes).
    pub concurrency: Option<usize>,
    /// The most requests in flight auto goes to.
    pub max_concurrency: usize,
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
        use crate::defaults;
        Self {
            base_url: defaults::BASE_URL.into(),
            api_key_env: Some(defaults::API_KEY_ENV.into()),
            rpm: None,
            tpm: None,
            concurrency: None,
            max_concurrency: crate::defaults::MAX_CONCURRENCY as usize,
            timeout: Duration::from_secs(defaults::TIMEOUT_SECS),
            retry: RetryPolicy::default(),
            structured_verdicts: false,
            batch: None,
            max_reply_bytes: defaults::MAX_REPLY_BYTES,
        }
    }
}

/// How many requests an endpoint may have in flight, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    /// Its base URL.
    pub url: String,
    /// Requests it may have in flight now.
    pub slots: usize,
    /// The most it has had in flight at once.
    pub most: usize,
    /// Why, in words ("auto: server saturated at ~61 in flight (128.0 requests/s)").
    pub why: String,
    /// The server's capacity is what holds it (auto found the knee, or an overload), not a
    /// number of ours.
    pub server_bound: bool,
}

impl Concurrency {
    /// One line for the closing summary.
    pub fn line(&self) -> String {
        format!(
            "{}: {} allowed in flight at the end, {} at most ({})",
            self.url, self.slots, self.most, self.why
        )
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

    /// How many requests each endpoint may have in flight now and why.
    pub fn concurrency(&self) -> Vec<Concurrency> {
        if self.inner.batcher.is_some() {
            return Vec::new();
        }
        self.inner
            .endpoints
            .iter()
            .map(Endpoint::concurrency)
            .collect()
    }

    /// The limits each endpoint's provider stated so far, by base URL.
    pub fn learned_limits(&self) -> Vec<(String, Limits)> {
        self.inner
            .endpoints
            .iter()
            .map(|e| (e.config.base_url.clone(), e.pace.learned()))
            .collect()
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
}
