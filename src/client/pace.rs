//! Per-endpoint pacing of requests and tokens, with limits that change during a run.
//!
//! The limits in force are the lower of those configured (`--rpm`, `--tpm`) and those the
//! provider states in its `x-ratelimit-limit-*` headers, times a share that 429s lower and
//! time restores, less room for the jitter of sends at an exact limit ([`JITTER`]). With no limit
//! known at all, 429s set a pace found by trial (90% of the rate the server accepted while it
//! refused) that then grows by 5% a second, and a 429's `Retry-After` pauses it. Under a
//! known limit a single 429 only moves the next send one interval later; only 429s that come
//! thick (see [`refusing`]) cut the share.
//!
//! Each request reserves the next free instant under both limits (a generic cell rate
//! algorithm with no burst: requests are spread evenly, because providers enforce their
//! limits over short windows and a burst of even a second's quota earns 429s there). A request
//! is charged its estimated tokens (prompt plus output cap, as providers count them before a
//! call); the prompt part is corrected from the reply's `usage`, and the bytes-per-token ratio
//! behind the estimate is learned from it. governor's limiters cannot do either: their quota
//! is fixed when built and nothing spent can be given back.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::ratelimit::RateHeaders;
use super::stats::Holdup;

/// How far a 429 cuts the share of the known limits that is used.
const CUT: f64 = 0.8;
/// The share of a known token limit the pace sends at: a stated limit is enforced over short
/// windows, and a send paced exactly at it reaches the server a little early now and then.
const HEADROOM: f64 = 0.99;
/// The jitter a window of a known request limit is kept free for: sends paced at exactly
/// 1/N s reach the server a few milliseconds early or late, so the (N+1)-th in a window would
/// earn a 429. Spread over the window's share of requests — learned from the headers'
/// `remaining` (a full window's capacity), else taken as a second's worth — 10 ms is 1% of a
/// 1-second window's intervals and 10% of a window that holds one request (no 429 at 1 to
/// 100 per second in any 1-second window with both cores busy:
/// `scripts/bench-stated-limit.sh`).
const JITTER: f64 = 0.010;
/// How fast the share (or a pace found by trial) grows back, per second.
const REGROW: f64 = 0.05;
/// How far back sends are remembered (replayed when the pace slows).
const RECENT: Duration = Duration::from_secs(5);
/// How far back replies count when telling whether a server refuses for rate.
const REPLIES: Duration = Duration::from_secs(2);
/// Prompt tokens per byte of message text before any reply says better (Japanese text: about
/// one token per three-byte character).
const TOKENS_PER_BYTE: f64 = 1.0 / 3.0;

/// Limits per minute.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: Option<f64>,
    /// Tokens per minute.
    pub tpm: Option<f64>,
}

/// When a request may go, and which limit (if any) made it wait.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The instant it may be sent.
    pub at: Instant,
    /// The limit that set `at`, when it is in the future.
    pub by: Option<Holdup>,
    /// The pace's generation when reserved (see [`Pace::still_valid`]).
    generation: u64,
}

/// The pacing of one endpoint.
pub struct Pace {
    configured: Limits,
    s: Mutex<State>,
}

struct State {
    learned: Limits,
    /// Share of the known limits in use, in (0, 1].
    share: f64,
    /// A pace found by trial, when no limit is known.
    trial_rps: Option<f64>,
    /// When the share or trial pace was last regrown.
    grown: Instant,
    /// When a 429 last cut the pace (one cut per burst of 429s).
    cut: Option<Instant>,
    /// The next free instant under the requests limit.
    req_tat: Instant,
    /// The next free instant under the tokens limit.
    tok_tat: Instant,
    /// Nothing goes before this (a `Retry-After`, or a limit stated as spent).
    paused_until: Instant,
    tokens_per_byte: f64,
    /// Reserved send instants and their tokens within [`RECENT`].
    recent: VecDeque<(Instant, u32)>,
    /// Replies within [`REPLIES`], and whether each was a 429.
    replies: VecDeque<(Instant, bool)>,
    /// Bumped when the pace is slowed: slots reserved before it are reserved again.
    generation: u64,
    /// The most requests a window of the server's holds, as its headers said (`remaining`
    /// after a request, plus that one).
    window_requests: Option<f64>,
    /// The same for tokens (`remaining` after a request, plus what it was charged).
    window_tokens: Option<f64>,
    /// The most tokens one request of [`RECENT`] was charged.
    largest: u32,
}

impl std::fmt::Debug for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pace")
            .field("configured", &self.configured)
            .field("learned", &self.learned())
            .finish()
    }
}

impl Pace {
    /// A pace under the configured limits (`None`: none configured).
    pub fn new(rpm: Option<NonZeroU32>, tpm: Option<NonZeroU32>) -> Self {
        let now = Instant::now();
        Self {
            configured: Limits {
                rpm: rpm.map(|v| v.get() as f64),
                tpm: tpm.map(|v| v.get() as f64),
            },
            s: Mutex::new(State {
                learned: Limits::default(),
                share: 1.0,
                trial_rps: None,
                grown: now,
                cut: None,
                req_tat: now,
                tok_tat: now,
                paused_until: now,
                tokens_per_byte: TOKENS_PER_BYTE,
                recent: VecDeque::new(),
                replies: VecDeque::new(),
                generation: 0,
                window_requests: None,
                window_tokens: None,
                largest: 0,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.s.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The limits the provider stated so far.
    pub fn learned(&self) -> Limits {
        self.state().learned
    }

    /// Whether any limit is known, configured or stated.
    pub fn known(&self) -> bool {
        let l = self.learned();
        [self.configured.rpm, self.configured.tpm, l.rpm, l.tpm]
            .iter()
            .any(Option::is_some)
    }

    /// Requests per second the pace allows now (`None`: unpaced).
    pub fn rps(&self) -> Option<f64> {
        self.rates(&self.state()).0
    }

    /// Estimated prompt tokens of `bytes` bytes of message text.
    pub fn prompt_tokens(&self, bytes: usize) -> u32 {
        (bytes as f64 * self.state().tokens_per_byte).ceil() as u32
    }

    fn rates(&self, s: &State) -> (Option<f64>, Option<f64>) {
        let min = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let rpm = min(self.configured.rpm, s.learned.rpm);
        let tpm = min(self.configured.tpm, s.learned.tpm);
        let rps = match rpm {
            Some(r) => {
                let rate = r / 60.0 * s.share;
                let per_window = s.window_requests.unwrap_or(rate).max(1.0);
                Some(1.0 / (1.0 / rate + JITTER / per_window))
            }
            None if tpm.is_none() => s.trial_rps,
            None => None,
        };
        // A window that holds W tokens, paced evenly, can still take one request more than
        // its share: the one sent at its start. Where the headers tell W, that request's
        // room is kept free (the largest of late). With no headers, W is not known and no
        // room is kept: assumed a second, it would halve the pace whenever one request is
        // half a second's tokens, where providers count tokens over a minute.
        let room = match s.window_tokens {
            Some(w) if w > 0.0 => (1.0 - f64::from(s.largest) / w).clamp(0.5, 1.0),
            _ => 1.0,
        };
        (rps, tpm.map(|t| t / 60.0 * s.share * HEADROOM * room))
    }

    /// When the next request could go, without reserving it.
    pub fn peek(&self) -> Instant {
        let s = self.state();
        let (rps, tps) = self.rates(&s);
        Self::start(&s, Instant::now(), rps, tps).0
    }

    fn start(
        s: &State,
        now: Instant,
        rps: Option<f64>,
        tps: Option<f64>,
    ) -> (Instant, Option<Holdup>) {
        let r = rps.map_or(now, |_| s.req_tat.max(now));
        let t = tps.map_or(now, |_| s.tok_tat.max(now));
        let at = r.max(t).max(s.paused_until);
        let by = if at <= now {
            None
        } else if t >= r && t >= s.paused_until {
            Some(Holdup::Tpm)
        } else {
            Some(Holdup::Rpm)
        };
        (at, by)
    }

    /// Reserves the next free instant for a request of `tokens` estimated tokens.
    pub fn reserve(&self, tokens: u32) -> Slot {
        let now = Instant::now();
        let mut s = self.state();
        regrow(&mut s, now);
        let (rps, tps) = self.rates(&s);
        let (at, by) = Self::start(&s, now, rps, tps);
        if let Some(r) = rps {
            s.req_tat = at + Duration::from_secs_f64(1.0 / r);
        }
        if let Some(t) = tps {
            s.tok_tat = at + Duration::from_secs_f64(tokens.max(1) as f64 / t);
        }
        while s
            .recent
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > RECENT)
        {
            s.recent.pop_front();
        }
        s.recent.push_back((at, tokens));
        s.largest = s.recent.iter().map(|r| r.1).max().unwrap_or(0);
        Slot {
            at,
            by,
            generation: s.generation,
        }
    }

    /// Whether a slot reserved earlier still holds when its instant comes: `false` when the
    /// pace was slowed since (reserve again), or paused past it.
    pub fn still_valid(&self, slot: &Slot) -> bool {
        let s = self.state();
        s.generation == slot.generation && s.paused_until <= slot.at
    }

    /// Slows the pace to the rates now in force: the sends made so far are replayed under
    /// them (a provider's window remembers what it was sent), and slots reserved for later
    /// under the old rates are given up, to be reserved again.
    fn slowed(&self, s: &mut State, now: Instant) {
        let (rps, tps) = self.rates(s);
        s.recent.retain(|&(t, _)| t <= now);
        s.generation += 1;
        let start = now.checked_sub(RECENT).unwrap_or(now);
        let (mut req, mut tok) = (start, start);
        for &(at, tokens) in &s.recent {
            if let Some(r) = rps {
                req = req.max(at) + Duration::from_secs_f64(1.0 / r);
            }
            if let Some(t) = tps {
                tok = tok.max(at) + Duration::from_secs_f64(tokens.max(1) as f64 / t);
            }
        }
        s.req_tat = req;
        s.tok_tat = tok;
    }

    /// Learns from one reply: the limits it states, a 429 (with its `Retry-After`), and the
    /// prompt tokens it bills against those estimated.
    pub fn observe(&self, reply: &Reply) {
        let now = Instant::now();
        let mut s = self.state();
        regrow(&mut s, now);
        let h = &reply.headers;
        let before = self.rates(&s);
        if let Some(l) = h.requests.limit {
            s.learned.rpm = Some(l);
        }
        if let Some(l) = h.tokens.limit {
            s.learned.tpm = Some(l);
        }
        if let Some(r) = h.requests.remaining
            && !reply.rate_limited
        {
            let seen = r + 1.0;
            s.window_requests = Some(s.window_requests.map_or(seen, |w| w.max(seen)));
        }
        if let Some(r) = h.tokens.remaining
            && !reply.rate_limited
        {
            let seen = r + f64::from(reply.cost);
            s.window_tokens = Some(s.window_tokens.map_or(seen, |w| w.max(seen)));
        }
        let (rps, tps) = self.rates(&s);
        // A limit stated as spent: nothing more until one unit is back (a reset to full would
        // wait out a whole window on providers whose window is a minute) — unless the pace
        // already keeps within that limit, where a spent window is what pacing at it looks
        // like and the next send is already a unit away.
        for (stated, rate, was) in [(h.requests, rps, before.0), (h.tokens, tps, before.1)] {
            let within = was
                .zip(stated.limit)
                .is_some_and(|(r, l)| r <= l / 60.0 * 1.0001);
            if stated.remaining == Some(0.0)
                && !within
                && let Some(reset) = stated.reset
            {
                let unit = rate.map_or(reset, |r| Duration::from_secs_f64(1.0 / r));
                s.paused_until = s.paused_until.max(now + reset.min(unit));
            }
        }
        s.replies.push_back((now, reply.rate_limited));
        while s
            .replies
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > REPLIES)
        {
            s.replies.pop_front();
        }
        if reply.rate_limited {
            let known = [
                self.configured.rpm,
                self.configured.tpm,
                s.learned.rpm,
                s.learned.tpm,
            ]
            .iter()
            .any(Option::is_some);
            if known {
                // Paced to a known limit, one 429 is the window seen a little full: the
                // next send waits one more interval (the refused request waits its own
                // Retry-After to be tried again). Pausing every send for the Retry-After
                // would cost a second's quota for each such 429.
                if let Some(r) = rps {
                    s.req_tat = s.req_tat.max(now) + Duration::from_secs_f64(1.0 / r);
                }
            } else if let Some(ra) = reply.retry_after {
                s.paused_until = s.paused_until.max(now + ra);
            }
            let may_cut = s
                .cut
                .is_none_or(|c| now.duration_since(c) > Duration::from_secs(1));
            if may_cut && let Some(accepted) = refusing(&s.replies, now) {
                s.cut = Some(now);
                if known {
                    s.share = (s.share * CUT).max(0.05);
                } else {
                    // What the server let through is what it allows.
                    s.trial_rps = Some((accepted * 0.9).max(1.0 / 60.0));
                }
            }
        }
        if slower(before, self.rates(&s)) {
            self.slowed(&mut s, now);
        }
        if let Some((estimated, billed)) = reply.prompt_tokens
            && billed > 0
            && reply.prompt_bytes > 0
        {
            // What the provider billed beyond (or short of) the estimate moves the token
            // pace, and the ratio behind the next estimates.
            if let Some(t) = tps {
                let delta = (billed as f64 - estimated as f64) / t;
                if delta >= 0.0 {
                    s.tok_tat += Duration::from_secs_f64(delta);
                } else {
                    let back = Duration::from_secs_f64(-delta);
                    s.tok_tat = s.tok_tat.checked_sub(back).unwrap_or(s.tok_tat).max(now);
                }
            }
            let ratio = billed as f64 / reply.prompt_bytes as f64;
            s.tokens_per_byte = 0.8 * s.tokens_per_byte + 0.2 * ratio;
        }
    }
}

/// What one attempt's reply says to the pace.
#[derive(Debug, Default)]
pub struct Reply {
    /// Its rate-limit headers.
    pub headers: RateHeaders,
    /// Whether it was a 429.
    pub rate_limited: bool,
    /// Its `Retry-After`.
    pub retry_after: Option<Duration>,
    /// Prompt tokens estimated before the call and billed by it.
    pub prompt_tokens: Option<(u32, u32)>,
    /// Bytes of message text the prompt estimate was made from.
    pub prompt_bytes: usize,
    /// Tokens the request was charged by the pace (prompt estimate plus output cap).
    pub cost: u32,
}

/// When recent replies show the server refusing for rate (at least 3 and a quarter of them
/// 429s within [`REPLIES`]), the rate it accepted meanwhile. A few scattered 429s (a server
/// that refuses some requests whatever the rate) do not slow the pace: cutting it for them
/// would only spiral it down, since slower sending does not make them stop.
fn refusing(replies: &VecDeque<(Instant, bool)>, now: Instant) -> Option<f64> {
    let refused = replies.iter().filter(|r| r.1).count();
    let total = replies.len();
    if refused < 3 || refused * 4 < total {
        return None;
    }
    let first = replies.front()?.0;
    let span = now
        .duration_since(first)
        .as_secs_f64()
        .clamp(0.25, REPLIES.as_secs_f64());
    Some((total - refused) as f64 / span)
}

/// Whether the rates `after` are lower than `before` anywhere (a limit newly known is lower
/// than none).
fn slower(before: (Option<f64>, Option<f64>), after: (Option<f64>, Option<f64>)) -> bool {
    let lower = |b: Option<f64>, a: Option<f64>| match (b, a) {
        (None, Some(_)) => true,
        (Some(b), Some(a)) => a < b * 0.999,
        _ => false,
    };
    lower(before.0, after.0) || lower(before.1, after.1)
}

/// Lets the share of the known limits, and a pace found by trial, grow back with time.
fn regrow(s: &mut State, now: Instant) {
    let dt = now.duration_since(s.grown).as_secs_f64();
    s.grown = now;
    let g = (REGROW * dt).exp();
    s.share = (s.share * g).min(1.0);
    if let Some(r) = &mut s.trial_rps {
        *r *= g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ratelimit::Stated;

    fn nz(v: u32) -> Option<NonZeroU32> {
        NonZeroU32::new(v)
    }

    /// The interval at `rpm` with no window known (a second's worth): 600 rpm is one send
    /// per 100 ms + 10 ms / 10.
    fn interval(rpm: f64) -> Duration {
        Duration::from_secs_f64(60.0 / rpm + JITTER / (rpm / 60.0))
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spread_evenly_at_the_configured_rate() {
        let p = Pace::new(nz(600), None);
        let t0 = Instant::now();
        let at: Vec<_> = (0..5).map(|_| p.reserve(10).at - t0).collect();
        let want: Vec<Duration> = (0..5).map(|i| interval(600.0) * i).collect();
        for (a, w) in at.iter().zip(&want) {
            assert!(a.abs_diff(*w) < Duration::from_micros(5), "{at:?} {want:?}");
        }
        // 1% under the limit: four intervals take 404 ms, not 400.
        assert!(want[4] > Duration::from_micros(403_900));
    }

    /// Paced to a known limit, an occasional 429 moves the next send one interval later and
    /// pauses nothing; a window stated as spent is what pacing at the limit looks like.
    #[tokio::test(start_paused = true)]
    async fn an_occasional_429_under_a_known_limit_costs_one_interval() {
        let p = Pace::new(nz(300), None);
        let stated = |remaining: f64| Reply {
            headers: RateHeaders {
                requests: Stated {
                    limit: Some(300.0),
                    remaining: Some(remaining),
                    reset: Some(Duration::from_secs(1)),
                },
                ..RateHeaders::default()
            },
            ..Reply::default()
        };
        // The first reply finds a window of five (four left after it): the second's worth
        // the pace assumed.
        p.observe(&stated(4.0));
        let t0 = Instant::now();
        for _ in 0..5 {
            p.reserve(1);
        }
        let refused = Reply {
            rate_limited: true,
            retry_after: Some(Duration::from_secs(1)),
            ..Reply::default()
        };
        p.observe(&refused);
        let next = p.reserve(1).at - t0;
        // Five reserved (the last at 4 intervals), the 429 adds one: the sixth at 6.
        assert!(
            next.abs_diff(interval(300.0) * 6) < Duration::from_micros(5),
            "{next:?}"
        );
        assert!(
            (p.rps().unwrap() - 1.0 / interval(300.0).as_secs_f64()).abs() < 1e-9,
            "one 429 does not cut the share"
        );
        p.observe(&stated(0.0));
        let after = p.reserve(1).at - t0;
        assert!(
            after.abs_diff(interval(300.0) * 7) < Duration::from_micros(5),
            "a spent window paced within its limit pauses nothing: {after:?}"
        );
        // Without a limit known, the same 429 pauses every send for its Retry-After.
        let q = Pace::new(None, None);
        q.observe(&refused);
        assert!(q.reserve(1).at >= Instant::now() + Duration::from_secs(1));
        // A window that holds one request keeps the whole 10 ms free in each interval.
        let one = Pace::new(nz(600), None);
        one.observe(&Reply {
            headers: RateHeaders {
                requests: Stated {
                    limit: Some(600.0),
                    remaining: Some(0.0),
                    reset: Some(Duration::from_millis(100)),
                },
                ..RateHeaders::default()
            },
            ..Reply::default()
        });
        assert!((one.rps().unwrap() - 1.0 / 0.110).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lower_stated_limit_wins_and_a_higher_one_does_not() {
        let p = Pace::new(nz(600), None);
        let stated = |limit| Reply {
            headers: RateHeaders {
                requests: Stated {
                    limit: Some(limit),
                    ..Stated::default()
                },
                ..RateHeaders::default()
            },
            ..Reply::default()
        };
        p.observe(&stated(6000.0));
        let close = |a: Option<f64>, b: f64| assert!((a.unwrap() - b).abs() < 1e-9, "{a:?} {b}");
        close(p.rps(), 1.0 / (0.1 + JITTER / 10.0));
        p.observe(&stated(120.0));
        close(p.rps(), 1.0 / (0.5 + JITTER / 2.0));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_are_charged_the_estimate_and_corrected_from_usage() {
        let p = Pace::new(None, nz(60_000)); // 1000 tokens a second, 990 paced
        let t0 = Instant::now();
        let secs = |tokens: f64| Duration::from_secs_f64(tokens / (1000.0 * HEADROOM));
        let near = |a: Duration, b: Duration| {
            assert!(a.abs_diff(b) < Duration::from_micros(5), "{a:?} {b:?}")
        };
        p.reserve(500);
        near(p.reserve(500).at - t0, secs(500.0));
        // The first prompt was estimated at 300 tokens and billed 600: 300 more to pay.
        assert_eq!(p.prompt_tokens(900), 300);
        p.observe(&Reply {
            prompt_tokens: Some((300, 600)),
            prompt_bytes: 900,
            ..Reply::default()
        });
        near(p.reserve(1).at - t0, secs(1300.0));
        assert_eq!(
            p.prompt_tokens(900),
            360,
            "the ratio moves toward the billed one"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_with_no_limit_known_sets_a_pace_below_what_earned_it() {
        let p = Pace::new(None, None);
        assert_eq!(p.rps(), None);
        let (ok, refused) = (
            Reply::default(),
            Reply {
                rate_limited: true,
                retry_after: Some(Duration::from_secs(2)),
                ..Reply::default()
            },
        );
        // One second: 20 accepted, then refusals thick enough to tell.
        for _ in 0..20 {
            p.reserve(1);
            p.observe(&ok);
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        p.observe(&refused);
        p.observe(&refused);
        assert_eq!(p.rps(), None, "two 429s say too little");
        for _ in 0..5 {
            p.observe(&refused);
        }
        // 7 of 27 replies were 429s: more than a quarter.
        let r = p.rps().unwrap();
        assert!((r - 20.0 * 0.9).abs() < 0.5, "{r}");
        let slot = p.reserve(1);
        assert!(slot.at >= Instant::now() + Duration::from_secs(2), "paused");
        tokio::time::advance(Duration::from_secs(10)).await;
        p.reserve(1);
        assert!(p.rps().unwrap() > r * 1.6, "grows back");

        // Scattered 429s among many accepted requests do not slow it.
        let q = Pace::new(None, None);
        for i in 0..100 {
            q.reserve(1);
            q.observe(if i % 10 == 0 { &refused } else { &ok });
        }
        assert_eq!(q.rps(), None);
    }
}
