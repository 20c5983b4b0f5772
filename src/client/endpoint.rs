//! One endpoint of a client: its URL and key, its pace, its slots (requests in flight) and its
//! health, and one HTTP attempt against it.
//!
//! Slots adapt unless `--concurrency` fixes them. With nothing known about the endpoint's
//! limits, one request goes first (a probe; its reply may state the limits) and the rest wait
//! for it. After that, under a known rate limit, enough slots to keep the pace busy at the
//! latency seen (the pace's requests per second times the latency, with room to spare), never
//! fewer than the default; with none known, what the adaptive limiter finds the server can
//! take (see [`super::adapt`]). Either way at most `--max-concurrency`, and under the level at
//! which the server last refused for overload.
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, SemaphorePermit};
use tokio::time::Instant;

use super::adapt::{Limiter, Outcome, Why};
use super::health::Health;
use super::pace::{Pace, Reply};
use super::ratelimit::RateHeaders;
use super::slots::Slots;
use super::stats::{ClientStats, Gauge, Holdup};
use super::wire::{error_message, parse_response};
use super::{ChatResponse, ClientError, EndpointConfig, describe, parse_retry_after};
use crate::defaults;

/// Requests in flight auto starts from after the first reply, when no limit is known (a
/// server that states none is usually self-hosted, and takes that many at once or queues).
const AUTO_START: usize = 32;
/// How long the rest of a run waits for the probe's reply before opening up anyway.
pub(super) const PROBE_WAIT: Duration = Duration::from_secs(1);

/// One endpoint.
pub(super) struct Endpoint {
    pub config: EndpointConfig,
    pub url: String,
    pub api_key: Option<String>,
    pub http: reqwest::Client,
    pub pace: Pace,
    pub slots: Slots,
    /// The adaptive limiter (it also counts the requests in flight).
    limiter: Mutex<Limiter>,
    /// The first request is still out alone, nothing known yet.
    probing: AtomicBool,
    /// The limiter's clock starts here.
    origin: Instant,
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
        let max = config.max_concurrency.max(1);
        let cap = match config.concurrency {
            Some(n) => n.max(1),
            None if pace.known() => (defaults::CONCURRENCY as usize).min(max),
            None => 1,
        };
        Ok(Self {
            url: format!("{base}/chat/completions"),
            api_key: api_key.map(|k| k.trim().to_string()),
            http,
            probing: AtomicBool::new(config.concurrency.is_none() && !pace.known()),
            pace,
            slots: Slots::new(cap),
            limiter: Mutex::new(Limiter::new(AUTO_START, max)),
            origin: Instant::now(),
            latency: Mutex::new(None),
            health: Health::default(),
            freed,
            config,
        })
    }

    /// Slots now.
    pub fn slots(&self) -> usize {
        self.slots.cap()
    }

    fn latency(&self) -> Option<f64> {
        *self.latency.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn clock(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    /// A free slot, if there is one.
    pub fn try_slot(&self) -> Option<SemaphorePermit<'_>> {
        self.slots.try_take()
    }

    /// The probe has been out too long (a slow or hung server): the rest of the run must
    /// not wait for its reply, so the slots open up without it.
    pub fn probe_overdue(&self) {
        if self.probing.swap(false, Ordering::Relaxed) {
            // Not yet what auto starts from: a server that has not answered one request may
            // be hung, and the default is enough to find out.
            let n = (defaults::CONCURRENCY as usize).min(self.config.max_concurrency.max(1));
            self.slots.set(n, &self.freed);
        }
    }

    /// How many requests may be in flight and why.
    pub fn concurrency(&self) -> super::Concurrency {
        let limiter = self.limiter().clone();
        let mut server_bound = false;
        let why = match self.config.concurrency {
            Some(_) => "fixed by --concurrency".to_string(),
            None if self.probing.load(Ordering::Relaxed) => {
                "auto: one request first, to learn the limits".to_string()
            }
            None => match (self.pace.rps(), self.latency()) {
                (Some(rps), lat) => {
                    let mut s = match lat {
                        Some(lat) => format!(
                            "auto: what the rate limit's pace ({rps:.1} requests/s) needs at {lat:.2} s a request"
                        ),
                        None => "auto: the rate limit's pace, no reply yet".to_string(),
                    };
                    if let Some(w) = limiter.ceiling_why() {
                        s.push_str(&format!(", held under the level where {}", w.describe()));
                        server_bound = true;
                    }
                    s
                }
                (None, _) => {
                    let w = limiter.why();
                    server_bound = matches!(w, Why::Saturated { .. } | Why::Overloaded { .. });
                    let w = match w {
                        Why::Max => {
                            format!("held at --max-concurrency {}", self.config.max_concurrency)
                        }
                        w => w.describe(),
                    };
                    if self.pace.known() {
                        // A token limit alone: it paces the run, and the slots follow what the
                        // server takes under it.
                        format!("auto: under the token limit's pace; {w}")
                    } else {
                        format!("auto: {w}")
                    }
                }
            },
        };
        super::Concurrency {
            url: self.config.base_url.clone(),
            slots: self.slots(),
            most: limiter.most(),
            why,
            server_bound,
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
        (estimated_prompt, prompt_bytes, cost): (u32, usize, u32),
        stats: &ClientStats,
    ) -> Result<ChatResponse, ClientError> {
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let tag = self.limiter().sent(self.clock());
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
                let outcome = match e {
                    ClientError::Timeout(_) => Outcome::Overload(None),
                    _ => Outcome::Other,
                };
                self.limiter().observe(tag, self.clock(), outcome);
                self.replied();
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
            cost,
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
        let outcome = match (&result, status.as_u16()) {
            (Ok(_), _) => Outcome::Ok(started.elapsed().as_secs_f64()),
            // Overloaded, or a gateway in front of a server that is.
            (Err(_), s @ (502 | 503 | 504 | 529)) => Outcome::Overload(Some(s)),
            _ => Outcome::Other,
        };
        self.limiter().observe(tag, self.clock(), outcome);
        self.pace.observe(&reply);
        self.replied();
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

    /// A reply (or a failure) came: the probe is over, and the slots follow what is known.
    fn replied(&self) {
        self.probing.store(false, Ordering::Relaxed);
        self.retarget();
    }

    /// Sets the slots to what the pace and latency, or the limiter, call for (see the
    /// module doc).
    fn retarget(&self) {
        if self.config.concurrency.is_some() || self.probing.load(Ordering::Relaxed) {
            return;
        }
        let max = self.config.max_concurrency.max(1);
        let target = match self.pace.rps() {
            Some(rps) => {
                let base = defaults::CONCURRENCY as usize;
                let paced = match self.latency() {
                    Some(lat) => (rps * lat * 1.5).ceil() as usize + 1,
                    None => base,
                };
                let cap = self.limiter().ceiling().unwrap_or(usize::MAX);
                paced.max(base).min(cap)
            }
            None => self.limiter().limit(),
        };
        self.slots.set(target.clamp(1, max), &self.freed);
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
