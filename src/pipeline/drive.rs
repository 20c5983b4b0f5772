//! Stage 3, drive: missing answers are generated while judging starts on each item as soon as
//! the answers it needs exist. Answers, judgments and failures go to their append-only files
//! (one writer each) as they complete, so a killed run keeps everything finished. Ctrl-C,
//! SIGTERM or an output that cannot be written stop the run (see [`super::stop`]): nothing
//! new is sent, the requests in flight are given [`super::GRACE`] to bring their replies,
//! which are kept, and a second signal stops at once.
//!
//! Work waits in two queues and only a bounded number of tasks exist at once (a few times
//! the slots the clients have open), judgments first: a task holds a request and its futures
//! (kilobytes), and a run of 10,000 requests spawned at once held them all.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;

use super::progress::{Progress, Verbosity};
use super::resume::State;
use super::schedule::{Item, Scheduler};
use super::setup::Setup;
use super::state::Answers;
use super::stop::{GRACE, Signals, Stop};
use super::summary::RunSummary;
use crate::config::RunOptions;
use crate::generate::{Answered, GenerateError, answer};
use crate::records::{ErrorRecord, Judgment, PairJudgment, SingleJudgment};
use crate::scorer::Scorer;
use crate::store::{JsonlWriter, LazyWriter};

/// What the drive stage leaves.
pub(super) struct Driven {
    /// Answers held at the end, by model and question.
    pub(super) answers: Answers,
    /// Counts so far.
    pub(super) summary: RunSummary,
    /// Answers the run needs (every model on every question, or a sampled mode's) and how
    /// many of them are missing.
    pub(super) answers_needed: (usize, usize),
}

/// A write that failed: the run stops (see [`Driver::stopping`]).
type Written = Result<(), std::io::Error>;

/// A judgment made, by scorer.
enum Done {
    Single(usize, Box<SingleJudgment>),
    Pair(usize, Box<PairJudgment>),
}

type Generated = (usize, usize, Result<Answered, GenerateError>);

/// The tasks in flight and the writers they feed.
struct Driver<'a> {
    setup: &'a Setup,
    answers: Answers,
    sched: Scheduler,
    summary: RunSummary,
    generating: JoinSet<Generated>,
    judging: JoinSet<Done>,
    /// Answers to generate, by model and question index, not spawned yet.
    to_answer: VecDeque<(usize, usize)>,
    /// Judgments whose answers are held, not spawned yet.
    to_judge: VecDeque<Item>,
    answer_files: HashMap<usize, JsonlWriter>,
    /// Each scorer's journal.
    journals: Vec<JsonlWriter>,
    errors: LazyWriter,
    progress: Option<Progress>,
    verbosity: Verbosity,
    /// Why the run is stopping, once it is.
    stop: Option<Stop>,
}

/// Generates what is missing and judges what is not judged yet, until everything is done or
/// Ctrl-C.
pub(super) async fn drive(
    opts: &RunOptions,
    setup: &Setup,
    state: State,
    verbosity: Verbosity,
) -> anyhow::Result<Driven> {
    let journals = setup
        .scorers
        .iter()
        .map(|s| JsonlWriter::open(&setup.dir.journal(s.name(), opts.mode)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut d = Driver {
        setup,
        sched: Scheduler::new(opts, setup, state.recorded),
        answers: state.answers,
        summary: RunSummary::default(),
        generating: JoinSet::new(),
        judging: JoinSet::new(),
        to_answer: VecDeque::new(),
        to_judge: VecDeque::new(),
        answer_files: HashMap::new(),
        journals,
        errors: LazyWriter::new(setup.dir.errors()),
        progress: None,
        verbosity,
        stop: None,
    };
    let planned = d.sched.planned(&d.answers);
    d.start()?;
    let mut progress = Progress::new(verbosity, d.to_answer.len(), planned, setup.clients.clone());
    progress.update(&d.summary);
    d.progress = Some(progress);
    d.pump().await?;
    if let Some(p) = &d.progress {
        p.finish();
    }
    d.close()
}

impl Driver<'_> {
    /// Queues every missing answer, and every judgment whose answers are already held.
    fn start(&mut self) -> anyhow::Result<()> {
        let setup = self.setup;
        for (mi, c) in setup.candidates.iter().enumerate() {
            for qi in 0..setup.questions.len() {
                if self.answers[mi][qi].is_some() {
                    self.summary.answers_reused += 1;
                    self.judge_ready(mi, qi);
                    continue;
                }
                if !self.sched.needs_answer(mi, qi) {
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = self.answer_files.entry(mi) {
                    e.insert(JsonlWriter::open(&setup.dir.answers(&c.name))?);
                }
                self.to_answer.push_back((mi, qi));
            }
        }
        Ok(())
    }

    /// Spawns queued work up to the bound on tasks, judgments first (they finish items).
    fn fill(&mut self) {
        let slots: usize = self.setup.clients.iter().map(|c| c.slots()).sum();
        let bound = (4 * slots).max(64);
        while self.generating.len() + self.judging.len() < bound {
            if let Some(item) = self.to_judge.pop_front() {
                self.spawn_judgment(item);
            } else if let Some((mi, qi)) = self.to_answer.pop_front() {
                let c = self.setup.candidates[mi].clone();
                let q = self.setup.questions[qi].clone();
                self.generating
                    .spawn(async move { (mi, qi, answer(&c, &q).await) });
            } else {
                break;
            }
        }
    }

    /// Handles results as they come until nothing is left, or the run stops: then what is in
    /// flight is waited for (at most [`GRACE`], or until a second signal).
    async fn pump(&mut self) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut signals = Signals::listen().context("listening for Ctrl-C and SIGTERM")?;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            if self.stop.is_none() {
                self.fill();
            }
            if self.generating.is_empty() && self.judging.is_empty() {
                if self.stop.is_some() {
                    break;
                }
                // Everything planned is in: pairwise-adaptive may plan another round.
                let more = self.sched.next_round(&self.answers);
                if more.is_empty() {
                    break;
                }
                if let Some(p) = &mut self.progress {
                    p.add_judgments(more.len());
                }
                self.to_judge.extend(more);
                continue;
            }
            let grace_over = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(res) = self.generating.join_next(), if !self.generating.is_empty() => {
                    let (mi, qi, res) = res.context("an answer task panicked")?;
                    let written = self.answered(mi, qi, res);
                    self.check(written);
                }
                Some(res) = self.judging.join_next(), if !self.judging.is_empty() => {
                    let written = self.judged(res.context("a judge task panicked")?);
                    self.check(written);
                }
                // A client halted the run (the cache's disk is full).
                _ = self.setup.halt.halted(), if self.stop.is_none() => {
                    let why = self.setup.halt.reason().unwrap_or_default();
                    self.stopping(Stop::Output(why));
                }
                signal = signals.next() => {
                    if self.stop.is_some() {
                        // A signal while stopping (a second one, or after a failed write):
                        // stop now, the first reason kept.
                        self.abort().await;
                        break;
                    }
                    self.stopping(Stop::Signal(signal));
                }
                _ = grace_over => {
                    self.abort().await;
                    break;
                }
                // Progress is shown while nothing completes too (waiting on a slow server).
                _ = tick.tick() => {}
            }
            if self.stop.is_some() && deadline.is_none() {
                deadline = Some(tokio::time::Instant::now() + GRACE);
            }
            if let Some(p) = &mut self.progress {
                p.update(&self.summary);
            }
        }
        Ok(())
    }

    /// A failed write stops the run: nothing new is sent, and what is in flight is kept in
    /// the response cache.
    fn check(&mut self, written: Written) {
        if let Err(e) = written
            && self.stop.is_none()
        {
            self.stopping(Stop::Output(e.to_string()));
        }
    }

    /// Stops the run: no request not yet sent will be, and the work not started is dropped.
    fn stopping(&mut self, why: Stop) {
        let in_flight: u64 = self
            .setup
            .clients
            .iter()
            .map(|c| {
                c.stats()
                    .in_flight
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .sum();
        let what = match &why {
            Stop::Signal(s) => format!("{}: stopping", s.name()),
            Stop::Output(e) => format!("error: {e}; stopping"),
        };
        self.setup.halt.halt(why.reason());
        self.stop = Some(why);
        self.to_answer.clear();
        self.to_judge.clear();
        if self.verbosity != Verbosity::Quiet {
            let line = format!(
                "{what}: nothing new is sent; {in_flight} request(s) in flight get up to {}s to finish, and their replies are kept (Ctrl-C again to stop at once)",
                GRACE.as_secs()
            );
            match &self.progress {
                Some(p) => p.note(&line),
                None => eprintln!("shinpan: {line}"),
            }
        }
    }

    /// Ends every task at once (a second signal, or the grace period is over).
    async fn abort(&mut self) {
        self.generating.abort_all();
        self.judging.abort_all();
        while self.generating.join_next().await.is_some() {}
        while self.judging.join_next().await.is_some() {}
    }

    /// A line about one item, with `--verbose`.
    fn say(&self, line: impl FnOnce() -> String) {
        if self.verbosity == Verbosity::Verbose
            && let Some(p) = &self.progress
        {
            p.item(line);
        }
    }

    /// Records an answer (or its failure) and starts the judgments it completes.
    fn answered(&mut self, mi: usize, qi: usize, res: Result<Answered, GenerateError>) -> Written {
        match res {
            Ok(Answered {
                record: a,
                from_cache,
            }) => {
                self.answer_files[&mi].send(&a)?;
                if a.finish_reasons.iter().any(|f| f == "length") {
                    self.summary.truncated += 1;
                }
                if from_cache {
                    self.summary.answers_cached += 1;
                } else {
                    self.summary.answers_generated += 1;
                }
                self.say(|| {
                    let u = a.usage.unwrap_or_default();
                    format!(
                        "answer {} question {}: {} turn(s), {} tokens",
                        a.model_id,
                        a.question_id,
                        a.turns().len(),
                        u.total()
                    )
                });
                self.answers[mi][qi] = Some(Arc::new(a));
                self.judge_ready(mi, qi);
            }
            // Not sent because the run is stopping: not a failure of the answer.
            Err(e) if matches!(e.source, crate::client::ClientError::Stopped) => {}
            Err(e) => {
                self.say(|| format!("answer failed: {e}"));
                self.summary.failed("answer", &e.source.to_string());
                self.summary.answer_errors.push(e.to_string());
                self.errors.send(&error_record(&e))?;
            }
        }
        Ok(())
    }

    /// Queues every judgment that model `mi`'s answer to question `qi` makes possible.
    fn judge_ready(&mut self, mi: usize, qi: usize) {
        let ready = self.sched.ready(&self.answers, mi, qi);
        self.to_judge.extend(ready);
    }

    /// Spawns one judgment (its answers are held: it was queued only then).
    fn spawn_judgment(&mut self, item: Item) {
        let questions = self.setup.questions.clone();
        let held = |m: usize, q: usize| {
            self.answers[m][q]
                .clone()
                .expect("queued only when present")
        };
        match item {
            Item::Single {
                s,
                q,
                m,
                turn,
                sample,
                rubric,
            } => {
                let a = held(m, q);
                let scorer: Scorer = self.setup.scorers[s].clone();
                self.judging.spawn(async move {
                    let q = &questions[q];
                    Done::Single(
                        s,
                        Box::new(scorer.single(q, &a, turn, sample, rubric).await),
                    )
                });
            }
            Item::Pair {
                s,
                q,
                m1,
                m2,
                turn,
                sample,
            } => {
                let (a1, a2) = (held(m1, q), held(m2, q));
                let scorer: Scorer = self.setup.scorers[s].clone();
                self.judging.spawn(async move {
                    Done::Pair(
                        s,
                        Box::new(scorer.pair(&questions[q], &a1, &a2, turn, sample).await),
                    )
                });
            }
        }
    }

    /// Writes a judgment to the journal, counting it (and why, when it has no verdict). Once
    /// the run is stopping, a judgment without a verdict is dropped: its request may not
    /// have been sent (the next run judges it).
    fn judged(&mut self, done: Done) -> Written {
        let verdict = match &done {
            Done::Single(_, j) => j.has_verdict(),
            Done::Pair(_, j) => j.has_verdict(),
        };
        if (self.stop.is_some() || self.setup.halt.is_halted()) && !verdict {
            return Ok(());
        }
        // A panel's lines name the judge.
        let panel = self.setup.scorers.len() > 1;
        let by = |judge: &str| {
            if panel {
                format!(" by {judge} of")
            } else {
                String::new()
            }
        };
        self.say(|| match &done {
            Done::Single(_, j) => format!(
                "judgment{} {} question {} turn {}: {}",
                by(j.judge.model()),
                j.model,
                j.question_id,
                j.turn,
                j.valid_score()
                    .map(|s| format!("score {s}"))
                    .unwrap_or_else(|| format!(
                        "no verdict: {}",
                        j.error.as_deref().unwrap_or("-")
                    ))
            ),
            Done::Pair(_, j) => format!(
                "judgment{} {} vs {} question {} turn {}: {:?} / {:?}",
                by(j.judge.model()),
                j.model_1,
                j.model_2,
                j.question_id,
                j.turn,
                j.g1_winner,
                j.g2_winner
            ),
        });
        let s = &mut self.summary;
        s.judgments_made += 1;
        match done {
            Done::Single(sc, j) => {
                let tx = &self.journals[sc];
                if !j.has_verdict() {
                    s.judgment_errors += 1;
                    s.failed("judgment", j.error.as_deref().unwrap_or("no score"));
                }
                tx.send(&*j)?;
            }
            Done::Pair(sc, j) => {
                let tx = &self.journals[sc];
                if !j.has_verdict() {
                    s.judgment_errors += 1;
                    for e in [&j.g1_error, &j.g2_error].into_iter().flatten() {
                        s.failed("judgment", e);
                    }
                }
                tx.send(&*j)?;
                self.sched
                    .record_outcome(&j.model_1, &j.model_2, [j.g1_winner, j.g2_winner]);
            }
        }
        Ok(())
    }

    /// Waits until every record is on disk; a write that failed stops the run (the first
    /// failure is the one said).
    fn close(mut self) -> anyhow::Result<Driven> {
        let mut written: Vec<Written> = vec![self.errors.finish()];
        written.extend(
            self.answer_files
                .into_values()
                .map(|w| w.finish().map(|_| ())),
        );
        written.extend(self.journals.into_iter().map(|w| w.finish().map(|_| ())));
        if self.stop.is_none()
            && let Some(Err(e)) = written.into_iter().find(Result::is_err)
        {
            self.stop = Some(Stop::Output(e.to_string()));
        }
        let mut summary = self.summary;
        summary.stopped = self.stop;
        summary.judgments_reused = self.sched.reused;
        summary.judgments_stale = self.sched.stale;
        summary.judgments_blocked = self.sched.blocked(&self.answers);
        summary.games = self.sched.adaptive_note();
        let mut needed = (0, 0);
        for (m, row) in self.answers.iter().enumerate() {
            for (q, a) in row.iter().enumerate() {
                if self.sched.needs_answer(m, q) {
                    needed.0 += 1;
                    needed.1 += usize::from(a.is_none());
                }
            }
        }
        Ok(Driven {
            answers: self.answers,
            summary,
            answers_needed: needed,
        })
    }
}

fn error_record(e: &GenerateError) -> ErrorRecord {
    ErrorRecord {
        stage: "answer".into(),
        model: e.model.clone(),
        question_id: e.question_id.clone(),
        turn: e.turn,
        error: e.source.to_string(),
        tstamp: crate::util::unix_now(),
    }
}
