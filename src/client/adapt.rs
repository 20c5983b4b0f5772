//! Adaptive concurrency (`--concurrency auto`) for an endpoint that states no rate limit: a
//! self-hosted vLLM or llama.cpp server, whose bound is its capacity (sequence slots, a
//! batch), which no header tells.
//!
//! The limiter learns the server's throughput curve. Every reply is a sample: the mean number
//! of requests in flight over its life (`n`) and its latency. By Little's law a server holding
//! `n` in flight serves `n / latency` requests a second, so samples are kept in buckets of `n`
//! (a quarter of a doubling wide), which gives the throughput at each level held. A level
//! counts once a whole round of it is in (as many replies as were in flight): its first
//! replies are those the server took at once, and the ones it queued come back later. A
//! round is taken as it is when its latencies lie close together or no higher than a level
//! measured with no queue; else a queue was building while it went out, and one round sent
//! with the level held is measured again.
//!
//! - **Growing**, as TCP's slow start and BBR's "full pipe" test do: the limit doubles per
//!   round while latency has not risen at all, else grows by half, as long as each level
//!   raises throughput over the best level below it by at least the fourth root of their
//!   ratio of `n` (a server with room doubles it).
//! - **Settling**: when a level does not, the knee is the smallest `n` reaching 90 % of the
//!   best throughput, between two estimates: where the latency of the level below it times
//!   that throughput puts it (a server with free slots), and a straight line between the two
//!   levels. Far apart, the levels between are measured (halving the gap geometrically).
//!   The limit holds 15 % above the knee, so the server's own queue always holds a request
//!   when a sequence ends.
//! - **Probing**: every 16 round trips a level 25 % above; throughput rising there by twice
//!   the growing test's gain means growing again, in 25 % steps.
//!
//! Latency that grows with the batch (each sequence slower, more of them) still raises
//! throughput and is followed; latency that grows without it (a queue) is not. A 503, 502,
//! 504, 529 or a timeout is an overload: the limit drops to 0.7 × the requests in flight when
//! the refused request was sent (again for each refusal of a request sent after the last cut)
//! and stays under that level; a probe above it, waiting longer each time it fails, finds out
//! whether the server has recovered. `--max-concurrency` caps it all. Buckets not refreshed for
//! 40 round trips (at least 10 s) are forgotten.

/// Levels grow by this factor per round trip while throughput rises…
const GROWTH: f64 = 1.5;
/// …and by this one while latency has not risen at all (within `FLAT` of the lowest).
const FAST_GROWTH: f64 = 2.0;
const FLAT: f64 = 1.1;
/// A round whose latencies all lie within this factor of each other had no queue.
const SPREAD: f64 = 1.25;
/// Requests in flight above the knee, so the server's queue is never empty.
const HEADROOM: f64 = 1.15;
/// The knee is the smallest level that reaches this share of the best throughput.
const KNEE_SHARE: f64 = 0.9;
/// A level raises throughput when it gains at least its `n` ratio to this power.
const ELASTIC: f64 = 0.35;
/// An overload cuts the limit to this share of the requests in flight.
const BACKOFF: f64 = 0.7;
/// Round trips between probes while holding.
const HOLD_RTTS: f64 = 16.0;
/// Estimates of the knee this close together are taken as it.
const REFINE: f64 = 1.2;
/// Probes go this factor above the target.
const PROBE: f64 = 1.25;
/// Round trips a bucket is trusted without a new sample (but at least `MIN_AGE` seconds).
const AGE_RTTS: f64 = 40.0;
const MIN_AGE: f64 = 10.0;
/// Buckets per doubling of `n`.
const PER_DOUBLING: f64 = 4.0;

/// Why the limit is what it is, for the progress line and the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    /// Still growing: throughput rose at every level tried so far (up to `confirmed`).
    Growing { confirmed: f64 },
    /// Throughput stops rising at about `knee` in flight, `rate` requests a second.
    Saturated { knee: f64, rate: f64 },
    /// The server refused requests (overload) at `at` in flight.
    Overloaded { at: usize, status: Option<u16> },
    /// `--max-concurrency` holds it.
    Max,
}

impl Why {
    /// In words, for an endpoint holding `limit` in flight.
    pub fn describe(&self) -> String {
        match *self {
            Why::Growing { confirmed } => format!(
                "still rising: throughput grew up to ~{} in flight",
                confirmed.round()
            ),
            Why::Saturated { knee, rate } => format!(
                "server saturated at ~{} in flight ({rate:.1} requests/s)",
                knee.round()
            ),
            Why::Overloaded { at, status } => match status {
                Some(s) => format!("the server refused requests (HTTP {s}) at {at} in flight"),
                None => format!("requests timed out at {at} in flight"),
            },
            Why::Max => "held at --max-concurrency".into(),
        }
    }
}

/// What a request was sent with: the requests in flight then (itself included), when, and
/// the integral of the requests in flight until then (so its reply knows the mean in flight
/// over its life: the `n` Little's law relates to its latency).
#[derive(Debug, Clone, Copy)]
pub struct Tag {
    pub n: usize,
    pub at: f64,
    area: f64,
    /// Requests sent before this one.
    seq: u64,
}

/// How a reply went, for the limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Answered; the latency in seconds.
    Ok(f64),
    /// Refused for want of capacity (`Some(status)`) or timed out (`None`).
    Overload(Option<u16>),
    /// Anything else: says nothing about capacity.
    Other,
}

/// The samples of one level of requests in flight.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Mean requests in flight and mean latency (exact at first, then moving).
    n: f64,
    rtt: f64,
    count: u32,
    /// The last sample's time.
    at: f64,
    /// When the level began to be measured afresh…
    since: f64,
    /// …and the first request counted (those sent before are not).
    from: u64,
    /// The shortest and longest latency counted.
    lo: f64,
    hi: f64,
    /// The first round was measured again, one sent with the level held.
    again: bool,
    /// Requests added at once when the level was raised to this one (0: none); the first
    /// round is theirs.
    burst: u32,
    /// A whole round is in that measures the level.
    steady: bool,
}

impl Bucket {
    fn new(since: f64, from: u64) -> Self {
        Self {
            from,
            n: 0.0,
            rtt: 0.0,
            count: 0,
            at: since,
            since,
            lo: f64::INFINITY,
            hi: 0.0,
            again: false,
            burst: 0,
            steady: false,
        }
    }

    fn rate(&self) -> f64 {
        self.n / self.rtt.max(1e-6)
    }

    /// Counts a reply to a request sent at `sent` with `n` in flight over its life; `true`
    /// when that makes a whole round, not yet judged steady.
    fn add(&mut self, seq: u64, n: f64, rtt: f64, now: f64) -> bool {
        if seq < self.from {
            return false;
        }
        self.count += 1;
        // The exact mean over the first round, then one that remembers about a round.
        let w = (1.0 / self.count as f64).max(1.0 / needed(n) as f64);
        self.n += w * (n - self.n);
        self.rtt += w * (rtt - self.rtt);
        self.lo = self.lo.min(rtt);
        self.hi = self.hi.max(rtt);
        self.at = now;
        let round = match self.burst {
            0 => needed(self.n),
            b => b,
        };
        !self.steady && self.count >= round
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Growing,
    /// Measuring levels between two estimates of the knee.
    Refining {
        lo: f64,
        hi: f64,
        goal: f64,
        best: f64,
        level: usize,
        since: f64,
    },
    Holding {
        until: f64,
    },
    Probing {
        level: usize,
        since: f64,
    },
}

/// Estimates of the knee (see [`Limiter::knee`]).
#[derive(Debug, Clone, Copy)]
struct Knee {
    low: f64,
    high: f64,
    goal: f64,
    best: f64,
}

/// The limiter of one endpoint (times are seconds from any fixed origin).
#[derive(Debug, Clone)]
pub struct Limiter {
    max: usize,
    limit: usize,
    phase: Phase,
    buckets: Vec<Option<Bucket>>,
    /// The highest level confirmed to raise throughput (growing).
    confirmed: f64,
    /// The factor growing goes up by.
    step: f64,
    /// The lowest latency of a level measured (what a request takes with no queue).
    base_rtt: f64,
    /// Where holding aims.
    target: usize,
    /// Smoothed latency.
    srtt: Option<f64>,
    /// An overload's level: the limit stays under it until a probe above it passes.
    ceiling: Option<usize>,
    /// Probes above the ceiling wait this many round trips (doubles on each failure).
    ceiling_wait: f64,
    last_cut: f64,
    /// Requests sent before the last cut.
    cut_seq: u64,
    why: Why,
    /// Why the last overload cut the limit (while its ceiling holds).
    overload: Option<Why>,
    in_flight: usize,
    /// The most in flight at once.
    most: usize,
    /// Requests sent so far.
    sent: u64,
    /// Integral of `in_flight` over time, up to `clock`.
    area: f64,
    clock: f64,
}

/// Samples a level needs before it counts: a whole round of them (as many as were in
/// flight), since the first replies of a new level are those the server took at once, and
/// the ones it queued come back later.
fn needed(n: f64) -> u32 {
    n.ceil().max(1.0) as u32
}

fn index(n: f64) -> usize {
    (PER_DOUBLING * n.max(1.0).log2()).round() as usize
}

impl Limiter {
    /// A limiter starting at `initial` in flight, never above `max`.
    pub fn new(initial: usize, max: usize) -> Self {
        let max = max.max(1);
        let initial = initial.clamp(1, max);
        Self {
            max,
            limit: initial,
            phase: Phase::Growing,
            buckets: Vec::new(),
            confirmed: initial as f64 / GROWTH,
            step: GROWTH,
            base_rtt: f64::INFINITY,
            target: initial,
            srtt: None,
            ceiling: None,
            ceiling_wait: HOLD_RTTS,
            last_cut: f64::NEG_INFINITY,
            cut_seq: 0,
            why: Why::Growing {
                confirmed: initial as f64,
            },
            overload: None,
            in_flight: 0,
            most: 0,
            sent: 0,
            area: 0.0,
            clock: 0.0,
        }
    }

    fn tick(&mut self, now: f64) {
        if now > self.clock {
            self.area += self.in_flight as f64 * (now - self.clock);
            self.clock = now;
        }
    }

    /// Counts a request sent at `now`.
    pub fn sent(&mut self, now: f64) -> Tag {
        self.tick(now);
        self.in_flight += 1;
        self.most = self.most.max(self.in_flight);
        self.sent += 1;
        Tag {
            n: self.in_flight,
            at: now,
            area: self.area,
            seq: self.sent - 1,
        }
    }

    /// Requests that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Why the limit is what it is.
    pub fn why(&self) -> Why {
        self.why
    }

    /// The most requests in flight at once so far.
    pub fn most(&self) -> usize {
        self.most
    }

    /// The most in flight an overload allows now (`None`: no overload holds, or a probe is
    /// finding out whether the server has recovered): what a paced endpoint stays under.
    pub fn ceiling(&self) -> Option<usize> {
        match self.phase {
            Phase::Probing { .. } => None,
            _ => self.ceiling.map(|c| c.saturating_sub(1).max(1)),
        }
    }

    /// The overload that set the ceiling, while it holds.
    pub fn ceiling_why(&self) -> Option<Why> {
        self.ceiling.and(self.overload)
    }

    fn rtt(&self) -> f64 {
        self.srtt.unwrap_or(1.0)
    }

    fn fresh(&self, now: f64) -> impl Iterator<Item = &Bucket> {
        let age = (AGE_RTTS * self.rtt()).max(MIN_AGE);
        self.buckets
            .iter()
            .flatten()
            .filter(move |b| now - b.at <= age && b.steady)
    }

    /// Counts a reply to a request sent with `tag`, at `now`.
    pub fn observe(&mut self, tag: Tag, now: f64, outcome: Outcome) {
        self.tick(now);
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Ok(rtt) => self.answered(tag, now, rtt),
            Outcome::Overload(status) => self.overloaded(tag, now, status),
            Outcome::Other => {}
        }
    }

    fn answered(&mut self, tag: Tag, now: f64, rtt: f64) {
        self.srtt = Some(self.srtt.map_or(rtt, |s| 0.9 * s + 0.1 * rtt));
        let n = if now > tag.at {
            ((self.area - tag.area) / (now - tag.at)).max(1.0)
        } else {
            tag.n.max(1) as f64
        };
        let i = index(n);
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, None);
        }
        let age = (AGE_RTTS * self.rtt()).max(MIN_AGE);
        let b = match &mut self.buckets[i] {
            Some(b) if now - b.at <= age => b,
            slot => slot.insert(Bucket::new(f64::NEG_INFINITY, 0)),
        };
        // Only the level held is measured (and a request alone, which measures the
        // latency of one): a level passed through on the way to another is not.
        let held = i == index(self.limit as f64) || n <= 1.5;
        let round = b.add(tag.seq, n, rtt, now) && held;
        if round {
            // A level's first round is taken as it is when its latency has not risen over
            // the levels below; else a queue was building while it went out, and its first
            // replies were those the server took at once: Little's law holds for a round
            // sent with the level held, so one is measured.
            // Flat: every latency of the round close together, or their mean no higher
            // than a level measured before with no queue (from enough samples to trust).
            let (mean_rtt, again, count) = (b.rtt, b.again, b.count);
            let flat = b.hi <= SPREAD * b.lo
                || (self.base_rtt.is_finite() && mean_rtt <= FLAT * self.base_rtt);
            let sent = self.sent;
            let b = self.buckets[i].as_mut().expect("just added");
            if again || flat {
                b.steady = true;
                if flat && count >= 8 {
                    self.base_rtt = self.base_rtt.min(mean_rtt);
                }
            } else {
                *b = Bucket {
                    again: true,
                    ..Bucket::new(now, sent)
                };
            }
        }
        let b = self.buckets[i].expect("just added");
        match self.phase {
            Phase::Growing => {
                if b.steady {
                    self.grow(b, now);
                }
            }
            Phase::Holding { until } => {
                if now >= until {
                    self.probe(now);
                }
            }
            Phase::Refining { level, since, .. } => match self.measured(level, since) {
                Some(b) => self.refined(b, now),
                // The level was never reached: settle on what is known.
                None if now - since > 8.0 * self.rtt() => self.settle_refining(now),
                None => {}
            },
            Phase::Probing { level, since } => match self.measured(level, since) {
                Some(b) => self.probed(b, now),
                None if now - since > 8.0 * self.rtt() => self.hold(now),
                None => {}
            },
        }
    }

    /// Level `level`'s bucket, once a round sent since `since` has measured it.
    fn measured(&self, level: usize, since: f64) -> Option<Bucket> {
        self.buckets
            .get(index(level as f64))
            .copied()
            .flatten()
            .filter(|b| b.steady && b.since >= since)
    }

    /// Whether bucket `b`'s throughput rose enough over the best level well below it.
    fn rising(&self, b: &Bucket, now: f64) -> bool {
        self.rising_by(b, now, ELASTIC)
    }

    fn rising_by(&self, b: &Bucket, now: f64, elastic: f64) -> bool {
        let below = self
            .fresh(now)
            .filter(|o| o.n * 1.15 <= b.n)
            .max_by(|x, y| x.rate().total_cmp(&y.rate()));
        match below {
            None => true,
            // Over a wide gap (the first level after a request alone) a server with a
            // few slots would still show a rise by the fourth root: it takes the square root.
            Some(o) => {
                let e = if b.n > 4.0 * o.n {
                    elastic.max(0.5)
                } else {
                    elastic
                };
                b.rate() >= o.rate() * (b.n / o.n).powf(e)
            }
        }
    }

    fn grow(&mut self, b: Bucket, now: f64) {
        let mut factor = self.step;
        if b.n > self.confirmed * 1.1 {
            if !self.rising(&b, now) {
                self.settle(now);
                return;
            }
            if self.step == GROWTH && self.base_rtt.is_finite() && b.rtt <= FLAT * self.base_rtt {
                // Latency has not risen at all: doubling, as slow start does.
                factor = FAST_GROWTH;
            }
            self.confirmed = b.n;
        }
        let want = (self.confirmed * factor).ceil() as usize;
        if let Some(c) = self.ceiling
            && want >= c
        {
            // Up against an overload's level: hold under it, and probe above it later.
            self.target = c.saturating_sub(1).max(1);
            self.hold(now);
            return;
        }
        self.why = Why::Growing {
            confirmed: self.confirmed,
        };
        if want > self.limit {
            self.set_level(want, now);
        }
    }

    /// Where the knee lies, from the fresh buckets: the best throughput, the share of it the
    /// knee reaches, and two estimates between the highest level short of it (`lo`) and the
    /// lowest reaching it (`hi`). If latency stayed at `lo`'s up to the knee (a server with
    /// free slots), the knee is where `lo`'s latency times the goal puts it; if throughput
    /// rose in a straight line, it is further up. Near together they are the knee; far apart
    /// (a coarse first step, or latency that grows with the batch) the levels between them
    /// are measured.
    fn knee(&self, now: f64) -> Option<Knee> {
        let mut fresh: Vec<&Bucket> = self.fresh(now).collect();
        fresh.sort_by(|a, b| a.n.total_cmp(&b.n));
        let best = fresh.iter().map(|b| b.rate()).fold(f64::NAN, f64::max);
        if best.is_nan() {
            return None;
        }
        let goal = KNEE_SHARE * best;
        let at = fresh.iter().position(|b| b.rate() >= goal)?;
        let hi = fresh[at];
        let (low, high) = match at.checked_sub(1).map(|j| fresh[j]) {
            Some(lo) if hi.rate() > lo.rate() => {
                let linear = lo.n + (goal - lo.rate()) / (hi.rate() - lo.rate()) * (hi.n - lo.n);
                let flat = (goal * lo.rtt).clamp(lo.n, linear);
                (flat, linear)
            }
            _ => (hi.n, hi.n),
        };
        Some(Knee {
            low,
            high,
            goal,
            best,
        })
    }

    /// Growing found the throughput levelling off: finds the knee, and holds a little above
    /// it.
    fn settle(&mut self, now: f64) {
        match self.knee(now) {
            Some(k) if k.high > REFINE * k.low => self.refine(k.low, k.high, k, now),
            Some(k) => self.settle_at(k.high, k.best, now),
            None => self.hold(now),
        }
    }

    fn settle_at(&mut self, knee: f64, rate: f64, now: f64) {
        self.target = ((knee * HEADROOM).ceil() as usize).max(knee.ceil() as usize + 1);
        self.why = Why::Saturated { knee, rate };
        self.hold(now);
    }

    fn settle_refining(&mut self, now: f64) {
        if let Phase::Refining { hi, best, .. } = self.phase {
            self.settle_at(hi, best, now);
        }
    }

    /// Measures the level halfway (geometrically) between `lo` and `hi`.
    fn refine(&mut self, lo: f64, hi: f64, knee: Knee, now: f64) {
        let level = ((lo * hi).sqrt().round() as usize).max(1);
        self.phase = Phase::Refining {
            lo,
            hi,
            goal: knee.goal,
            best: knee.best,
            level,
            since: now,
        };
        self.set_level(level, now);
    }

    /// A refining level has had a round of replies (`b`, its bucket).
    fn refined(&mut self, b: Bucket, now: f64) {
        let Phase::Refining {
            mut lo,
            mut hi,
            goal,
            best,
            ..
        } = self.phase
        else {
            return;
        };
        if b.rate() >= goal {
            hi = b.n.min(hi);
        } else {
            lo = b.n.max(lo);
        }
        if hi <= REFINE * lo {
            self.settle_at(hi, best, now);
        } else {
            self.refine(
                lo,
                hi,
                Knee {
                    low: lo,
                    high: hi,
                    goal,
                    best,
                },
                now,
            );
        }
    }

    /// Holds at the target until the next probe.
    fn hold(&mut self, now: f64) {
        let target = self.target;
        self.set(target);
        self.phase = Phase::Holding {
            until: now + HOLD_RTTS * self.rtt(),
        };
    }

    /// Tries a level above the target: has the server more room now?
    fn probe(&mut self, now: f64) {
        let mut level = ((self.target as f64 * PROBE).ceil() as usize).max(self.target + 1);
        if let Some(c) = self.ceiling
            && level >= c
            && now - self.last_cut < self.ceiling_wait * self.rtt()
        {
            // Over an overload's level only once its wait has passed.
            level = c.saturating_sub(1).max(1);
        }
        if level <= self.limit || level > self.max {
            self.hold(now);
            return;
        }
        self.phase = Phase::Probing { level, since: now };
        self.set_level(level, now);
    }

    /// A probe's level has had a round of replies (`b`, its bucket).
    fn probed(&mut self, b: Bucket, now: f64) {
        if let Phase::Probing { level, .. } = self.phase
            && self.ceiling.is_some_and(|c| level >= c)
        {
            // Passed above the overload's level: the server has room again.
            self.ceiling = None;
            self.overload = None;
            self.ceiling_wait = HOLD_RTTS;
        }
        // A probe's step is small, and a few percent of error in a round could pass for a
        // rise: it takes twice the gain growing takes.
        if self.rising_by(&b, now, 2.0 * ELASTIC) {
            self.confirmed = b.n;
            // Near a knee already found: on in the probe's steps, not the first growth's.
            self.step = PROBE;
            self.phase = Phase::Growing;
            self.grow(b, now);
        } else {
            self.hold(now);
        }
    }

    fn overloaded(&mut self, tag: Tag, now: f64, status: Option<u16>) {
        if tag.seq < self.cut_seq {
            // Sent before the last cut: that cut answers it already (a refusal is quick, and
            // the requests of one burst come back refused together).
            return;
        }
        if let Phase::Probing { level, .. } = self.phase
            && self.ceiling.is_some_and(|c| level >= c)
        {
            self.ceiling_wait = (self.ceiling_wait * 2.0).min(4.0 * HOLD_RTTS);
        }
        self.last_cut = now;
        self.cut_seq = self.sent;
        let at = tag.n.max(1);
        self.ceiling = Some(self.ceiling.map_or(at, |c| c.min(at)));
        let cut = ((self.limit.min(at) as f64 * BACKOFF).floor() as usize).max(1);
        self.target = cut;
        self.confirmed = self.confirmed.min(cut as f64);
        self.why = Why::Overloaded { at, status };
        self.overload = Some(self.why);
        self.phase = Phase::Holding {
            until: now + HOLD_RTTS * self.rtt(),
        };
        self.set(cut);
    }

    /// Sets the limit to a level to be measured afresh.
    fn set_level(&mut self, level: usize, now: f64) {
        let before = self.limit;
        self.set(level);
        let i = index(self.limit as f64);
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, None);
        }
        // Going up, the requests added go out at once, behind those in flight: if the server
        // takes them without a queue, their latency shows it a round early.
        // Only while growing from the start: near a knee a queue is already there, and the
        // requests added go to its head, so their first round would flatter the level.
        let burst = match (self.phase, self.step == GROWTH) {
            (Phase::Growing, true) => self.limit.saturating_sub(before) as u32,
            _ => 0,
        };
        self.buckets[i] = Some(Bucket {
            burst,
            ..Bucket::new(now, self.sent)
        });
    }

    /// Sets the limit to `want`, under an overload's level (unless probing above it) and
    /// `--max-concurrency`.
    fn set(&mut self, want: usize) {
        let mut l = want.max(1);
        if let Some(c) = self.ceiling
            && !matches!(self.phase, Phase::Probing { .. })
            && l >= c
        {
            l = c.saturating_sub(1).max(1);
            if let Some(w) = self.overload {
                self.why = w;
            }
        }
        if l >= self.max {
            l = self.max;
            self.why = Why::Max;
        }
        self.limit = l;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;
    use std::collections::{BinaryHeap, VecDeque};

    /// A server of `slots` sequences, each taking `latency` (plus `batch` per other sequence
    /// served beside it, and up to ±`noise` of it drawn per request), a FIFO queue of `queue`
    /// beyond which it refuses (503): the simulator's capacity model as discrete events.
    #[derive(Clone, Copy)]
    struct Server {
        slots: usize,
        latency: f64,
        batch: f64,
        queue: usize,
        noise: f64,
    }

    #[derive(PartialEq)]
    struct Event {
        at: f64,
        tag: Tag,
        refused: bool,
    }
    impl Eq for Event {}
    impl PartialOrd for Event {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Event {
        fn cmp(&self, o: &Self) -> Ordering {
            o.at.total_cmp(&self.at)
        }
    }
    impl PartialEq for Tag {
        fn eq(&self, o: &Self) -> bool {
            self.n == o.n && self.at == o.at
        }
    }

    struct Run {
        wall: f64,
        end: f64,
        refused: usize,
        most_in_flight: usize,
        limits: Vec<(f64, usize)>,
        limiter: Limiter,
    }

    /// Sends `total` requests (all ready at once) through `limiter` to `server`; a refused
    /// request is sent again at once.
    fn run(server: Server, limiter: Limiter, total: usize, seed: u64) -> Run {
        run_from(0.0, server, limiter, total, seed)
    }

    /// As an endpoint runs: one request alone first (the probe), then the limiter from 32.
    fn auto(server: Server, max: usize, total: usize, seed: u64) -> Run {
        let mut l = Limiter::new(32, max);
        let tag = l.sent(0.0);
        let t = server.latency;
        l.observe(tag, t, Outcome::Ok(t));
        let mut r = run_from(t, server, l, total - 1, seed);
        r.wall += t;
        r
    }

    /// The same from time `start` (a limiter that has run before).
    fn run_from(start: f64, server: Server, mut limiter: Limiter, total: usize, seed: u64) -> Run {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut events = BinaryHeap::new();
        let mut waiting: VecDeque<Tag> = VecDeque::new();
        let (mut serving, mut in_flight, mut done, mut left) = (0usize, 0usize, 0usize, total);
        let (mut refused, mut most, mut now) = (0, 0, start);
        let mut limits = Vec::new();
        let service = |serving: usize, rng: &mut rand_chacha::ChaCha8Rng| {
            let base = server.latency + server.batch * (serving - 1) as f64;
            base * (1.0 + server.noise * (2.0 * rng.random::<f64>() - 1.0))
        };
        while done < total {
            while left > 0 && in_flight < limiter.limit() {
                left -= 1;
                in_flight += 1;
                most = most.max(in_flight);
                let tag = limiter.sent(now);
                if serving < server.slots {
                    serving += 1;
                    let s = service(serving, &mut rng);
                    events.push(Event {
                        at: now + s,
                        tag,
                        refused: false,
                    });
                } else if waiting.len() < server.queue {
                    waiting.push_back(tag);
                } else {
                    events.push(Event {
                        at: now + 0.001,
                        tag,
                        refused: true,
                    });
                }
            }
            let e = events.pop().expect("something is in flight");
            now = e.at;
            in_flight -= 1;
            if e.refused {
                refused += 1;
                left += 1;
                limiter.observe(e.tag, now, Outcome::Overload(Some(503)));
            } else {
                serving -= 1;
                done += 1;
                limiter.observe(e.tag, now, Outcome::Ok(now - e.tag.at));
                if let Some(t) = waiting.pop_front() {
                    serving += 1;
                    let s = service(serving, &mut rng);
                    events.push(Event {
                        at: now + s,
                        tag: t,
                        refused: false,
                    });
                }
            }
            if limits.last().is_none_or(|&(_, l)| l != limiter.limit()) {
                limits.push((now, limiter.limit()));
            }
        }
        Run {
            wall: now - start,
            end: now,
            refused,
            most_in_flight: most,
            limits,
            limiter,
        }
    }

    fn plain(slots: usize) -> Server {
        Server {
            slots,
            latency: 0.5,
            batch: 0.0,
            queue: 64,
            noise: 0.0,
        }
    }

    /// The wall time a fixed concurrency gives (the best of a sweep is what auto is held to).
    fn fixed(server: Server, n: usize, total: usize) -> f64 {
        run(server, Limiter::new(n, n), total, 1).wall
    }

    #[test]
    fn a_plain_server_is_run_near_its_capacity_without_overload() {
        for slots in [8, 64, 256, 1024] {
            let r = auto(plain(slots), 1024, 800, 1);
            let bound = 800.0 / (slots as f64 / 0.5);
            // The ramp from 8 costs a round trip per doubling, which a run this short at
            // 256 or 1,024 slots cannot hide; at 64 slots it is within 1.3 × the bound.
            let ramp = ((slots as f64 / 8.0).log2() + 1.0) * 0.5;
            let allowed = if slots <= 64 {
                1.3 * bound
            } else {
                bound + ramp
            };
            assert!(
                r.wall <= allowed,
                "{slots} slots: {:.2} s against a bound of {bound:.2} s (limits {:?})",
                r.wall,
                r.limits
            );
            assert!(r.refused <= 8, "{slots} slots: {} refused", r.refused);
        }
    }

    #[test]
    fn the_limit_settles_at_the_knee_and_says_so() {
        let r = auto(plain(64), 1024, 20_000, 1);
        let l = r.limiter.limit();
        assert!((64..=100).contains(&l), "settled at {l}: {:?}", &r.limits);
        match r.limiter.why() {
            Why::Saturated { knee, rate } => {
                assert!((56.0..=80.0).contains(&knee), "knee {knee}");
                assert!((115.0..=130.0).contains(&rate), "rate {rate}");
            }
            w => panic!("{w:?}"),
        }
        assert_eq!(r.refused, 0);
        assert!(r.most_in_flight <= 128, "slots and queue hold 128");
    }

    #[test]
    fn a_batch_that_slows_each_sequence_is_still_followed_to_its_best() {
        let server = Server {
            slots: 64,
            latency: 0.5,
            batch: 0.005,
            queue: 64,
            noise: 0.0,
        };
        let best = [16, 32, 48, 64, 80, 96, 128]
            .into_iter()
            .map(|n| fixed(server, n, 4000))
            .fold(f64::INFINITY, f64::min);
        let auto = auto(server, 1024, 4000, 1);
        assert!(
            auto.wall <= 1.1 * best,
            "auto {:.2} s, best fixed {best:.2} s: {:?}",
            auto.wall,
            auto.limits
        );
    }

    #[test]
    fn noisy_latency_converges() {
        for seed in 1..=5 {
            let server = Server {
                noise: 0.5,
                ..plain(64)
            };
            let r = auto(server, 1024, 20_000, seed);
            let l = r.limiter.limit();
            assert!((56..=128).contains(&l), "seed {seed}: settled at {l}");
            let bound = 20_000.0 / 128.0;
            assert!(
                r.wall <= 1.1 * bound,
                "seed {seed}: {:.1} s against {bound:.1} s",
                r.wall
            );
            assert!(r.refused <= 200, "seed {seed}: {} refused", r.refused);
        }
    }

    #[test]
    fn overload_cuts_the_limit_and_a_larger_server_is_found_again() {
        // Four sequences and no queue: every fifth request in flight is refused.
        let small = Server {
            slots: 4,
            latency: 0.1,
            batch: 0.0,
            queue: 0,
            noise: 0.0,
        };
        let r = auto(small, 1024, 2000, 1);
        assert!(r.limiter.limit() <= 4, "{:?}", r.limits);
        assert!(
            matches!(r.limiter.why(), Why::Overloaded { .. }),
            "{:?}",
            r.limiter.why()
        );
        assert!(r.refused < 60, "{} refused of 2000", r.refused);
        let bound = 2000.0 / 40.0;
        assert!(
            r.wall <= 1.2 * bound,
            "{:.1} s against {bound:.1} s",
            r.wall
        );
        // The same limiter on a server with room: it grows past the old ceiling.
        let big = Server {
            slots: 64,
            queue: 64,
            ..small
        };
        let r = run_from(r.end, big, r.limiter, 20_000, 2);
        assert!(
            r.limiter.limit() >= 56,
            "{:?} {:?}",
            &r.limits[..r.limits.len().min(40)],
            r.limiter
        );
    }

    #[test]
    fn max_concurrency_holds() {
        let r = auto(plain(64), 20, 2000, 1);
        assert_eq!(r.limiter.limit(), 20);
        assert!(r.most_in_flight <= 20);
        assert_eq!(r.limiter.why(), Why::Max);
    }
}
