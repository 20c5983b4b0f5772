//! What a client has done and is doing: counters for summaries and tests, and gauges of the
//! requests in flight and of those waiting, by what they wait for, so progress can say which
//! limit holds a run back.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and gauges of one endpoint.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// HTTP attempts made.
    pub attempts: AtomicU64,
    /// Requests answered successfully.
    pub succeeded: AtomicU64,
    /// Requests that failed after all attempts.
    pub failed: AtomicU64,
    /// Attempts answered with 429.
    pub rate_limited: AtomicU64,
    /// Prompt plus completion tokens of successful calls.
    pub tokens: AtomicU64,
    /// Cache reads or writes that failed (the run goes on without the cache for them).
    pub cache_errors: AtomicU64,
    /// Replies whose body had bytes that are not UTF-8 (replaced by U+FFFD).
    pub invalid_utf8: AtomicU64,
    /// Replies that said nothing of the tokens used (booked at an estimate).
    pub usage_estimated: AtomicU64,
    /// Attempts sent and not answered yet: never more than the endpoint's concurrency.
    pub in_flight: AtomicU64,
    /// Requests waiting for a free slot (the concurrency cap).
    pub waiting_slot: AtomicU64,
    /// Requests waiting for the requests-per-minute pace.
    pub waiting_rpm: AtomicU64,
    /// Requests waiting for the tokens-per-minute pace.
    pub waiting_tpm: AtomicU64,
    /// Requests waiting for another process's reply to the same request (a shared cache).
    pub waiting_claim: AtomicU64,
    /// Requests answered by another process's reply to the same request, waited for.
    pub shared_hits: AtomicU64,
}

/// What holds requests back right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holdup {
    /// The requests-per-minute pace.
    Rpm,
    /// The tokens-per-minute pace.
    Tpm,
    /// The cap on requests in flight.
    Concurrency,
    /// Nothing of ours: the server's own speed.
    Server,
}

impl Holdup {
    /// Its name in progress lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Holdup::Rpm => "rpm",
            Holdup::Tpm => "tpm",
            Holdup::Concurrency => "concurrency",
            Holdup::Server => "server",
        }
    }
}

impl ClientStats {
    /// The limit most requests wait for (the paces first: a request waiting for a slot
    /// waits behind them).
    pub fn holdup(&self) -> Holdup {
        let get = |g: &AtomicU64| g.load(Ordering::Relaxed);
        if get(&self.waiting_rpm) > 0 {
            Holdup::Rpm
        } else if get(&self.waiting_tpm) > 0 {
            Holdup::Tpm
        } else if get(&self.waiting_slot) > 0 {
            Holdup::Concurrency
        } else {
            Holdup::Server
        }
    }
}

/// Counts one request in a gauge while it lives.
pub(super) struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    pub(super) fn enter(g: &'a AtomicU64) -> Self {
        g.fetch_add(1, Ordering::Relaxed);
        Gauge(g)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
