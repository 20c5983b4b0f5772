//! The simulator's rate limits: requests and tokens per minute, each enforced over a window
//! (a bucket holding the window's share of the minute's quota, refilled evenly), as providers
//! do. A request is charged its prompt tokens plus its `max_tokens` before it is answered, as
//! OpenAI counts them. Every reply states the limits in OpenAI's `x-ratelimit-*` headers
//! unless told not to (vLLM and llama.cpp send none); a 429 adds `Retry-After`.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// One limit: a governor bucket of `burst` units refilled at `per_minute`.
struct Bucket {
    lim: Limiter,
    per_minute: u32,
    burst: u32,
}

impl Bucket {
    fn new(per_minute: NonZeroU32, window: Duration) -> Self {
        let burst = ((per_minute.get() as f64 * window.as_secs_f64() / 60.0).floor() as u32).max(1);
        let quota =
            Quota::per_minute(per_minute).allow_burst(NonZeroU32::new(burst).expect("max(1)"));
        Self {
            lim: RateLimiter::direct(quota).with_middleware::<StateInformationMiddleware>(),
            per_minute: per_minute.get(),
            burst,
        }
    }

    fn unit(&self) -> Duration {
        Duration::from_secs_f64(60.0 / self.per_minute as f64)
    }

    /// Takes `n` units (at most the bucket); `Err(wait)` when they are not there.
    fn take(&self, n: u32) -> Result<u32, Duration> {
        let n = NonZeroU32::new(n.clamp(1, self.burst)).expect("clamped");
        match self.lim.check_n(n) {
            Ok(Ok(snap)) => Ok(snap.remaining_burst_capacity()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(DefaultClock::default().now())),
            Err(_) => unreachable!("n is at most the burst"),
        }
    }

    fn state(&self, taken: Result<u32, Duration>) -> (u32, Duration) {
        match taken {
            Ok(remaining) => (remaining, self.unit() * (self.burst - remaining)),
            Err(wait) => (0, wait + self.unit() * (self.burst - 1)),
        }
    }
}

/// The limits of one simulator.
pub(super) struct Limits {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    headers: bool,
}

/// What the limits said about one request.
pub(super) struct Verdict {
    /// Headers every reply carries.
    pub headers: HeaderMap,
    /// `Some(wait)` when the request is over a limit.
    pub refused: Option<Duration>,
}

impl Limits {
    pub fn new(
        rpm: Option<NonZeroU32>,
        tpm: Option<NonZeroU32>,
        window: Duration,
        headers: bool,
    ) -> Self {
        let window = if window.is_zero() {
            Duration::from_secs(1)
        } else {
            window
        };
        Self {
            requests: rpm.map(|r| Bucket::new(r, window)),
            tokens: tpm.map(|t| Bucket::new(t, window)),
            headers,
        }
    }

    /// Charges one request of `tokens` tokens against both limits.
    pub fn charge(&self, tokens: u32) -> Verdict {
        let mut headers = HeaderMap::new();
        let mut refused: Option<Duration> = None;
        for (name, bucket, n) in [
            ("requests", &self.requests, 1),
            ("tokens", &self.tokens, tokens),
        ] {
            // A request refused by the first limit is not charged to the second (whose
            // state governor cannot report without charging, so it goes unstated).
            let Some(b) = bucket.as_ref().filter(|_| refused.is_none()) else {
                continue;
            };
            let taken = b.take(n);
            if let Err(wait) = taken {
                refused = Some(wait);
            }
            if self.headers {
                let (remaining, reset) = b.state(taken);
                let set = |h: &mut HeaderMap, k: &str, v: String| {
                    h.insert(
                        axum::http::HeaderName::from_bytes(k.as_bytes()).expect("valid"),
                        HeaderValue::from_str(&v).expect("ascii"),
                    );
                };
                set(
                    &mut headers,
                    &format!("x-ratelimit-limit-{name}"),
                    b.per_minute.to_string(),
                );
                set(
                    &mut headers,
                    &format!("x-ratelimit-remaining-{name}"),
                    remaining.to_string(),
                );
                set(
                    &mut headers,
                    &format!("x-ratelimit-reset-{name}"),
                    format!("{}ms", reset.as_millis().max(1)),
                );
            }
        }
        Verdict { headers, refused }
    }
}
