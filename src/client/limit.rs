//! Per-endpoint pacing: one governor limiter for requests and one for tokens, both with a
//! burst of about a second's worth so traffic is spread evenly over the minute (providers
//! enforce their limits over short windows, so a burst of a minute's quota earns 429s).

use std::num::NonZeroU32;
use std::time::Duration;

use std::sync::atomic::AtomicU64;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::stats::Gauge;

/// Requests-per-minute and tokens-per-minute pacing for one endpoint.
pub struct Limiter {
    requests: Option<DefaultDirectRateLimiter>,
    tokens: Option<(DefaultDirectRateLimiter, u32)>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("requests", &self.requests.is_some())
            .field("tokens", &self.tokens.as_ref().map(|t| t.1))
            .finish()
    }
}

impl Limiter {
    /// A limiter allowing `rpm` requests and `tpm` tokens per minute; `None` is unlimited.
    pub fn new(rpm: Option<NonZeroU32>, tpm: Option<NonZeroU32>) -> Self {
        let requests = rpm.map(|rpm| {
            let period = Duration::from_secs_f64(60.0 / rpm.get() as f64);
            RateLimiter::direct(
                Quota::with_period(period)
                    .expect("non-zero")
                    .allow_burst(NonZeroU32::new(1).expect("one")),
            )
        });
        let tokens = tpm.map(|tpm| {
            // About two seconds of tokens may go at once; enough for one large request at
            // realistic limits, small enough that a minute's budget is never spent in a burst.
            let burst = (tpm.get() / 30).max(1);
            let burst_nz = NonZeroU32::new(burst).expect("max(1)");
            (
                RateLimiter::direct(Quota::per_minute(tpm).allow_burst(burst_nz)),
                burst,
            )
        });
        Self { requests, tokens }
    }

    /// Waits until one request costing about `tokens` tokens may be sent. A request larger
    /// than the token burst waits for a full burst (it cannot be split). While it waits, it
    /// is counted in `waiting_rpm` or `waiting_tpm` (what holds a run back).
    pub async fn acquire(&self, tokens: u32, waiting_rpm: &AtomicU64, waiting_tpm: &AtomicU64) {
        if let Some((lim, burst)) = &self.tokens {
            let n = NonZeroU32::new(tokens.clamp(1, *burst)).expect("clamped to >= 1");
            let _waiting = Gauge::enter(waiting_tpm);
            // Cannot fail: n <= burst by construction.
            let _ = lim.until_n_ready(n).await;
        }
        if let Some(lim) = &self.requests {
            let _waiting = Gauge::enter(waiting_rpm);
            lim.until_ready().await;
        }
    }
}
