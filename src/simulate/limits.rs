//! The simulator's rate limits: requests and tokens per minute, each enforced over a window
//! as providers do: a bucket holding the window's share of the minute's quota, refilled
//! evenly (OpenAI's way), or, with `sliding`, at most that share in any window (a sliding
//! log, as gateways that count "N in any second" do: stricter, since a bucket lets a window
//! that starts full take its share again as it refills). A request is charged its prompt tokens plus its `max_tokens` before it is answered, as
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

/// One limit as a sliding log: at most `cap` units in any `window`.
struct Sliding {
    per_minute: u32,
    cap: u32,
    window: Duration,
    log: std::sync::Mutex<std::collections::VecDeque<(std::time::Instant, u32)>>,
}

impl Sliding {
    fn new(per_minute: NonZeroU32, window: Duration) -> Self {
        let cap = ((per_minute.get() as f64 * window.as_secs_f64() / 60.0).floor() as u32).max(1);
        Self {
            per_minute: per_minute.get(),
            cap,
            window,
            log: Default::default(),
        }
    }

    /// Takes `n` units (at most the cap) when the last window holds room for them;
    /// `Err(wait)` until enough of it has aged out.
    fn take(&self, n: u32) -> Result<u32, Duration> {
        let n = n.clamp(1, self.cap);
        let now = std::time::Instant::now();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        while log
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= self.window)
        {
            log.pop_front();
        }
        let used: u32 = log.iter().map(|(_, u)| u).sum();
        if used + n <= self.cap {
            log.push_back((now, n));
            return Ok(self.cap - used - n);
        }
        let mut freed = 0;
        for (t, u) in log.iter() {
            freed += u;
            if used - freed + n <= self.cap {
                return Err((*t + self.window).saturating_duration_since(now));
            }
        }
        Err(self.window)
    }

    /// (remaining, time until the window is empty again).
    fn state(&self, taken: Result<u32, Duration>) -> (u32, Duration) {
        let now = std::time::Instant::now();
        let last = self
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .back()
            .map(|(t, _)| *t);
        let empty = last.map_or(Duration::ZERO, |t| {
            (t + self.window).saturating_duration_since(now)
        });
        match taken {
            Ok(remaining) => (remaining, empty),
            Err(_) => (0, empty),
        }
    }
}

/// A limit, counted one way or the other.
enum Counter {
    Bucket(Bucket),
    Sliding(Sliding),
}

impl Counter {
    fn new(per_minute: NonZeroU32, window: Duration, sliding: bool) -> Self {
        if sliding {
            Counter::Sliding(Sliding::new(per_minute, window))
        } else {
            Counter::Bucket(Bucket::new(per_minute, window))
        }
    }

    fn per_minute(&self) -> u32 {
        match self {
            Counter::Bucket(b) => b.per_minute,
            Counter::Sliding(s) => s.per_minute,
        }
    }

    fn take(&self, n: u32) -> Result<u32, Duration> {
        match self {
            Counter::Bucket(b) => b.take(n),
            Counter::Sliding(s) => s.take(n),
        }
    }

    fn state(&self, taken: Result<u32, Duration>) -> (u32, Duration) {
        match self {
            Counter::Bucket(b) => b.state(taken),
            Counter::Sliding(s) => s.state(taken),
        }
    }
}

/// The limits of one simulator.
pub(super) struct Limits {
    requests: Option<Counter>,
    tokens: Option<Counter>,
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
        sliding: bool,
        headers: bool,
    ) -> Self {
        let window = if window.is_zero() {
            Duration::from_secs(1)
        } else {
            window
        };
        Self {
            requests: rpm.map(|r| Counter::new(r, window, sliding)),
            tokens: tpm.map(|t| Counter::new(t, window, sliding)),
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
                    b.per_minute().to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A sliding log allows the window's share in any window, and says when room comes back.
    #[test]
    fn a_sliding_window_allows_its_share_in_any_window() {
        let s = Sliding::new(NonZeroU32::new(300).unwrap(), Duration::from_millis(200));
        // 300 a minute over 200 ms: one at a time.
        assert_eq!(s.take(1), Ok(0));
        let wait = s.take(1).unwrap_err();
        assert!(
            wait <= Duration::from_millis(200) && wait > Duration::from_millis(150),
            "{wait:?}"
        );
        std::thread::sleep(Duration::from_millis(210));
        assert_eq!(s.take(1), Ok(0));
        let five = Sliding::new(NonZeroU32::new(300).unwrap(), Duration::from_secs(1));
        for left in (0..5).rev() {
            assert_eq!(five.take(1), Ok(left));
        }
        assert!(five.take(1).is_err(), "a sixth in the same second");
    }
}
