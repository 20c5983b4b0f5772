//! One endpoint of a client: its URL and key, its pace, its slots (requests in flight) and its
//! health, and one HTTP attempt against it.
//!
//! Slots adapt unless `--concurrency` fixes them: with nothing known about the endpoint's
//! limits, one request goes first (a probe; its reply may state the limits) and the rest wait
//! for it; after that, enough slots to keep the pace busy at the latency seen (the pace's
//! requests per second times the latency, with room to spare), never fewer than the default.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::health::Health;
use super::pace::{Pace, Reply};
use super::ratelimit::RateHeaders;
use super::stats::{ClientStats, Gauge, Holdup};
use super::wire::{error_message, parse_response};
use super::{ChatResponse, ClientError, EndpointConfig, describe, parse_retry_after};
use crate::defaults;

/// The most slots an endpoint grows to by itself.
const MAX_SLOTS: usize = 1024;
/// How long the rest of a run waits for the probe's reply before opening up anyway.
pub(super) const PROBE_WAIT: Duration = Duration::from_secs(1);

/// One endpoint.
pub(super) struct Endpoint {
    pub config: EndpointConfig,
    pub url: String,
    pub api_key: Option<String>,
    pub http: reqwest::Client,
    pub pace: Pace,
    slots: Semaphore,
    /// Slots now (they only grow).
    cap: AtomicUsize,
    /// Mean seconds per successful attempt (exponentially weighted), `None` before one.
    latency: Mutex<Option<f64>>,
    pub health: Health,
    /// Told whenever a slot of any endpoint of the pool frees or is added.
    freed: Arc<Notify>,
}

impl Endpoint {
    pub fn new(
        config: EndpointConfig,
        api_key: Option<String>,
        freed: Arc<Notify>,
    ) -> Result<Self, ClientError> {
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
        let pace = Pace::new(config.rpm, config.tpm);
        let cap = match config.concurrency {
            Some(n) => n.max(1),
            None if pace.known() => defaults::CONCURRENCY as usize,
            None => 1,
        };
        Ok(Self {
            url: format!("{base}/chat/completions"),
            api_key: api_key.map(|k| k.trim().to_string()),
            http,
            pace,
            slots: Semaphore::new(cap),
            cap: AtomicUsize::new(cap),
            latency: Mutex::new(None),
            health: Health::default(),
            freed,
            config,
        })
    }

    /// Slots now.
    pub fn slots(&self) -> usize {
        self.cap.load(Ordering::Relaxed)
    }

    fn latency(&self) -> Option<f64> {
        *self.latency.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A free slot, if there is one.
    pub fn try_slot(&self) -> Option<SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }

    /// The probe has been out too long (a slow or hung server): the rest of the run must
    /// not wait for its reply, so the slots open up without it.
    pub fn probe_overdue(&self) {
        if self.config.concurrency.is_none() {
            self.grow_to(defaults::CONCURRENCY as usize);
        }
    }

    /// Waits until the pace lets a request of `tokens` estimated tokens go, counting the
    /// wait in the gauges.
    pub async fn wait_pace(&self, tokens: u32, stats: &ClientStats) {
        loop {
            let slot = self.pace.reserve(tokens);
            if let Some(by) = slot.by {
                let _waiting = Gauge::enter(match by {
                    Holdup::Tpm => &stats.waiting_tpm,
                    _ => &stats.waiting_rpm,
                });
                tokio::time::sleep_until(slot.at).await;
            }
            // A reply that slowed or paused the pace while this request waited moves it.
            if self.pace.still_valid(&slot) {
                return;
            }
        }
    }

    /// One HTTP attempt; what its reply says about the limits goes to the pace.
    pub async fn attempt(
        &self,
        body: &async_openai::types::chat::CreateChatCompletionRequest,
        (estimated_prompt, prompt_bytes): (u32, usize),
        stats: &ClientStats,
    ) -> Result<ChatResponse, ClientError> {
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let mut rb = self.http.post(&self.url).json(body);
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key);
        }
        let timeout = self.config.timeout;
        let fut = async {
            let resp = rb.send().await.map_err(|e| {
                if e.is_timeout() {
                    ClientError::Timeout(timeout)
                } else {
                    ClientError::Connect(describe(&e))
                }
            })?;
            let status = resp.status();
            let headers = RateHeaders::parse(resp.headers());
            let retry_after = parse_retry_after(resp.headers());
            let text = read_body(resp, self.config.max_reply_bytes, stats).await?;
            Ok::<_, ClientError>((status, headers, retry_after, text))
        };
        let result = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| ClientError::Timeout(timeout))
            .and_then(|r| r);
        let (status, headers, retry_after, text) = match result {
            Ok(r) => r,
            Err(e) => {
                self.open_up();
                return Err(e);
            }
        };
        let mut reply = Reply {
            headers,
            rate_limited: status.as_u16() == 429,
            // A pause is capped like any single retry wait.
            retry_after: retry_after.map(|r| r.min(self.config.retry.max_delay)),
            prompt_tokens: None,
            prompt_bytes,
        };
        let mut result = self.read(status, &text.text, retry_after, stats);
        if let Ok(r) = &mut result {
            r.invalid_utf8 = text.invalid_utf8;
            if r.usage_estimated {
                // No `usage`: booked at the estimate the pace makes, and marked.
                r.usage = crate::types::Usage {
                    prompt_tokens: u64::from(estimated_prompt),
                    completion_tokens: u64::from(self.pace.prompt_tokens(r.content.len())),
                    ..crate::types::Usage::default()
                };
            }
            reply.prompt_tokens = Some((
                estimated_prompt,
                r.usage.prompt_tokens.min(u32::MAX as u64) as u32,
            ));
            let secs = started.elapsed().as_secs_f64();
            let mut lat = self.latency.lock().unwrap_or_else(|p| p.into_inner());
            *lat = Some(lat.map_or(secs, |l| 0.9 * l + 0.1 * secs));
        }
        self.pace.observe(&reply);
        self.open_up();
        result
    }

    /// Reads a reply.
    fn read(
        &self,
        status: reqwest::StatusCode,
        text: &str,
        retry_after: Option<Duration>,
        stats: &ClientStats,
    ) -> Result<ChatResponse, ClientError> {
        if !status.is_success() {
            if status.as_u16() == 429 {
                stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            let mut message = error_message(text);
            if status.as_u16() == 404 {
                // The usual cause is a base URL without /v1, or with the endpoint path in it.
                if message.trim().is_empty() {
                    message = "not found".into();
                }
                message = format!(
                    "{message} (POST {}; --base-url should end in /v1: shinpan appends /chat/completions)",
                    self.url
                );
            }
            return Err(ClientError::Status {
                status: status.as_u16(),
                message,
                retry_after,
            });
        }
        let mut resp = parse_response(text)?;
        // A server (or a proxy in front of it) that echoes the key back would otherwise have
        // it written into answers and judgments: the key never leaves this layer.
        if let Some(key) = &self.api_key
            && key.len() >= 4
            && resp.content.contains(key.as_str())
        {
            resp.content = resp.content.replace(key.as_str(), "<redacted>");
        }
        Ok(resp)
    }

    /// Grows the slots to what the pace and latency call for (see the module doc).
    fn open_up(&self) {
        if self.config.concurrency.is_some() {
            return;
        }
        let base = defaults::CONCURRENCY as usize;
        let target = match (self.pace.rps(), self.latency()) {
            (Some(rps), Some(lat)) => {
                ((rps * lat * 1.5).ceil() as usize + 1).clamp(base, MAX_SLOTS)
            }
            _ => base,
        };
        self.grow_to(target);
    }

    fn grow_to(&self, target: usize) {
        let old = self.cap.fetch_max(target, Ordering::Relaxed);
        if target > old {
            self.slots.add_permits(target - old);
            self.freed.notify_waiters();
        }
    }
}

/// A reply's body as text.
struct Body {
    text: String,
    /// Bytes that are not UTF-8 were replaced by U+FFFD.
    invalid_utf8: bool,
}

/// Reads a reply's body, at most `cap` bytes (a larger one is refused before it is held
/// whole), as UTF-8; invalid bytes are replaced and counted, never silently. A body in an
/// encoding reqwest does not undo (`Content-Encoding: br` here) is refused: it would fail
/// the same way on every try.
async fn read_body(
    mut resp: reqwest::Response,
    cap: usize,
    stats: &ClientStats,
) -> Result<Body, ClientError> {
    if let Some(enc) = resp
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "identity")
    {
        return Err(ClientError::Malformed(format!(
            "the reply is in Content-Encoding {enc:?}, which shinpan does not decode"
        )));
    }
    let mut bytes: Vec<u8> = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ClientError::Connect(describe(&e)))?
    {
        if bytes.len() + chunk.len() > cap {
            return Err(ClientError::TooLarge(cap));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Body {
            text,
            invalid_utf8: false,
        },
        Err(e) => {
            stats.invalid_utf8.fetch_add(1, Ordering::Relaxed);
            Body {
                text: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                invalid_utf8: true,
            }
        }
    })
}
