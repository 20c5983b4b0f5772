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

mod cache;
mod health;
mod limit;
mod retry;
mod stats;
mod wire;

pub use cache::{
    Cache, CacheError, CacheInfo, CacheMode, PruneFilter, cache_key, default_cache_path,
};
pub use limit::Limiter;
pub use retry::{RetryPolicy, parse_retry_after};
pub use stats::{ClientStats, Holdup};
pub use wire::{ChatRequest, Message, Role};

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::types::Usage;
use wire::{error_message, parse_response};

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
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Limit on one attempt, from sending to the last byte of the reply.
    pub timeout: Duration,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// Whether the server honours `response_format` with a JSON schema (judge verdicts are
    /// then asked for as schema-constrained JSON).
    pub structured_verdicts: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        use crate::config::defaults;
        Self {
            base_url: defaults::BASE_URL.into(),
            api_key_env: Some(defaults::API_KEY_ENV.into()),
            rpm: None,
            tpm: None,
            concurrency: defaults::CONCURRENCY as usize,
            timeout: Duration::from_secs(defaults::TIMEOUT_SECS),
            retry: RetryPolicy::default(),
            structured_verdicts: false,
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

impl ClientError {
    /// Whether another attempt might succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Status { status, .. } => {
                matches!(status, 408 | 409 | 425 | 429) || *status >= 500
            }
            ClientError::Timeout(_)
            | ClientError::Connect(_)
            | ClientError::Malformed(_)
            | ClientError::NoChoices => true,
            ClientError::Refused(_)
            | ClientError::Config(_)
            | ClientError::Unreachable(_)
            | ClientError::GaveUp { .. } => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A successful completion.
#[derive(Debug, Clone)]
pub struct ChatResponse {
    /// The assistant's text.
    pub content: String,
    /// Why generation stopped, as the server said it (`stop`, `length`, …).
    pub finish_reason: String,
    /// Tokens billed for this call (zero when the server reports none).
    pub usage: Usage,
    /// Attempts it took, the successful one included (0 when served from the cache).
    pub attempts: u32,
}

/// A client for one endpoint; clone it freely (clones share limits and counters).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: EndpointConfig,
    url: String,
    api_key: Option<String>,
    http: reqwest::Client,
    limiter: Limiter,
    slots: Semaphore,
    stats: ClientStats,
    health: health::Health,
    cache: Option<Arc<Cache>>,
    cache_mode: CacheMode,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.url)
            .field(
                "api_key",
                &self.inner.api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("limiter", &self.inner.limiter)
            .finish()
    }
}

impl Client {
    /// Builds a client, reading the API key from the configured environment variable.
    /// A missing key is an error for a remote endpoint (every request would fail with 401),
    /// but not for a server on this machine, which usually wants none.
    pub fn new(config: EndpointConfig) -> Result<Self, ClientError> {
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
                _ if is_loopback(&config.base_url) => None,
                _ => {
                    return Err(ClientError::Config(format!(
                        "environment variable {var} is not set, and {} needs an API key \
                         (--api-key-env VAR names another variable; --api-key-env \"\" sends none)",
                        config.base_url
                    )));
                }
            },
        };
        Self::with_key(config, api_key)
    }

    /// Builds a client with an explicit key (tests, or keys from elsewhere).
    pub fn with_key(config: EndpointConfig, api_key: Option<String>) -> Result<Self, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Config(format!(
                "base URL {base:?} must start with http:// or https:// (--base-url)"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                url: format!("{base}/chat/completions"),
                limiter: Limiter::new(config.rpm, config.tpm),
                slots: Semaphore::new(config.concurrency.max(1)),
                api_key: api_key.map(|k| k.trim().to_string()),
                config,
                http,
                stats: ClientStats::default(),
                health: health::Health::default(),
                cache: None,
                cache_mode: CacheMode::Off,
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

    /// The endpoint's settings.
    pub fn config(&self) -> &EndpointConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn stats(&self) -> &ClientStats {
        &self.inner.stats
    }

    /// Sends one chat completion, pacing, retrying and timing out as configured; served from
    /// the response cache when it holds the same request, and stored there before returning.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, ClientError> {
        let key = match (&self.inner.cache, self.inner.cache_mode) {
            (Some(_), CacheMode::Use | CacheMode::Refresh) => Some(cache_key(req)),
            _ => None,
        };
        if let Some(key) = key.clone()
            && self.inner.cache_mode == CacheMode::Use
            && let Some(Some(hit)) = self.with_cache_file(move |c| c.get(&key)).await
        {
            return Ok(hit);
        }
        let resp = self.send(req).await?;
        if let Some(key) = key {
            let (model, stored) = (req.model.clone(), resp.clone());
            self.with_cache_file(move |c| c.put(&key, &model, &stored))
                .await;
        }
        Ok(resp)
    }

    /// Drops the cached response to `req`: a reply that was delivered but is unusable (a
    /// judge reply without a readable verdict) must be asked for again by a later run, not
    /// served from the cache forever.
    pub async fn forget(&self, req: &ChatRequest) {
        let key = cache_key(req);
        self.with_cache_file(move |c| c.remove(&key)).await;
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

    async fn send(&self, req: &ChatRequest) -> Result<ChatResponse, ClientError> {
        let policy = self.inner.config.retry;
        let body = req.to_body();
        let tokens = req.estimated_tokens();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let stats = &self.inner.stats;
            let result = {
                let _slot = {
                    let _waiting = stats::Gauge::enter(&stats.waiting_slot);
                    self.inner.slots.acquire().await.expect("never closed")
                };
                if let Some(why) = self.inner.health.down() {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(ClientError::Unreachable(why.to_string()));
                }
                self.inner
                    .limiter
                    .acquire(tokens, &stats.waiting_rpm, &stats.waiting_tpm)
                    .await;
                let _sent = stats::Gauge::enter(&stats.in_flight);
                self.attempt(&body).await
            };
            self.inner
                .health
                .observe(&self.inner.config.base_url, &result);
            match result {
                Ok(mut resp) => {
                    resp.attempts = attempt;
                    let s = &self.inner.stats;
                    s.succeeded.fetch_add(1, Ordering::Relaxed);
                    s.tokens.fetch_add(resp.usage.total(), Ordering::Relaxed);
                    return Ok(resp);
                }
                Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                    tokio::time::sleep(policy.delay(attempt, e.retry_after())).await;
                }
                Err(e) => {
                    self.inner.stats.failed.fetch_add(1, Ordering::Relaxed);
                    let e = self.redact(e);
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

    async fn attempt(
        &self,
        body: &async_openai::types::chat::CreateChatCompletionRequest,
    ) -> Result<ChatResponse, ClientError> {
        let inner = &self.inner;
        inner.stats.attempts.fetch_add(1, Ordering::Relaxed);
        let mut rb = inner.http.post(&inner.url).json(body);
        if let Some(key) = &inner.api_key {
            rb = rb.bearer_auth(key);
        }
        let timeout = inner.config.timeout;
        let fut = async {
            let resp = rb.send().await.map_err(|e| {
                if e.is_timeout() {
                    ClientError::Timeout(timeout)
                } else {
                    ClientError::Connect(describe(&e))
                }
            })?;
            let status = resp.status();
            let retry_after = parse_retry_after(resp.headers());
            let text = resp
                .text()
                .await
                .map_err(|e| ClientError::Connect(describe(&e)))?;
            Ok::<_, ClientError>((status, retry_after, text))
        };
        let (status, retry_after, text) = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| ClientError::Timeout(timeout))??;
        if !status.is_success() {
            if status.as_u16() == 429 {
                inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            let mut message = error_message(&text);
            if status.as_u16() == 404 {
                // The usual cause is a base URL without /v1, or with the endpoint path in it.
                if message.trim().is_empty() {
                    message = "not found".into();
                }
                message = format!(
                    "{message} (POST {}; --base-url should end in /v1: shinpan appends /chat/completions)",
                    inner.url
                );
            }
            return Err(ClientError::Status {
                status: status.as_u16(),
                message,
                retry_after,
            });
        }
        let mut resp = parse_response(&text)?;
        // A server (or a proxy in front of it) that echoes the key back would otherwise have
        // it written into answers and judgments: the key never leaves this layer.
        if let Some(key) = &inner.api_key
            && key.len() >= 4
            && resp.content.contains(key.as_str())
        {
            resp.content = resp.content.replace(key.as_str(), "<redacted>");
        }
        Ok(resp)
    }

    fn redact(&self, e: ClientError) -> ClientError {
        let Some(key) = &self.inner.api_key else {
            return e;
        };
        let msg = e.to_string();
        if key.len() >= 4 && msg.contains(key.as_str()) {
            ClientError::Config(msg.replace(key.as_str(), "<redacted>"))
        } else {
            e
        }
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
fn describe(e: &reqwest::Error) -> String {
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
