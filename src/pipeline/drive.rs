//! Stage 3, drive: missing answers are generated while judging starts on each item as soon as
//! the answers it needs exist. Answers, judgments and failures go to their append-only files
//! (one writer each) as they complete, so a killed run keeps everything finished. Ctrl-C stops
//! at once, keeping what is done.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;

use super::resume::{Answers, State};
use super::schedule::{Item, Scheduler};
use super::setup::Setup;
use super::summary::RunSummary;
use crate::config::RunOptions;
use crate::generate::{GenerateError, answer};
use crate::judge::Judge;
use crate::records::{AnswerRecord, ErrorRecord, PairJudgment, Question, SingleJudgment};
use crate::store::{JsonlSender, JsonlWriter, LazyWriter};

/// What the drive stage leaves.
pub(super) struct Driven {
    /// Answers held at the end, by model and question.
    pub(super) answers: Answers,
    /// Counts so far.
    pub(super) summary: RunSummary,
}

enum Done {
    Single(Box<SingleJudgment>),
    Pair(Box<PairJudgment>),
}

/// Generates what is missing and judges what is not judged yet, until everything is done or
/// Ctrl-C.
pub(super) async fn drive(
    opts: &RunOptions,
    setup: &Setup,
    state: State,
    progress: bool,
) -> anyhow::Result<Driven> {
    let State {
        mut answers,
        recorded,
    } = state;
    let questions = &setup.questions;
    let judge = &setup.judge;
    let mut summary = RunSummary::default();
    let jpath = setup.dir.journal(&judge.name, opts.mode);
    let journal = JsonlWriter::open(&jpath).with_context(|| jpath.display().to_string())?;
    let jsender = journal.sender();
    let mut errors = LazyWriter::new(setup.dir.errors());
    let mut awriters: HashMap<usize, JsonlWriter> = HashMap::new();
    let mut gen_set: JoinSet<(usize, usize, Result<AnswerRecord, GenerateError>)> = JoinSet::new();
    for (mi, c) in setup.candidates.iter().enumerate() {
        for (qi, q) in questions.iter().enumerate() {
            if answers[mi][qi].is_some() {
                summary.answers_reused += 1;
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = awriters.entry(mi) {
                let p = setup.dir.answers(&c.name);
                e.insert(JsonlWriter::open(&p).with_context(|| p.display().to_string())?);
            }
            let (c, q) = (c.clone(), q.clone());
            gen_set.spawn(async move { (mi, qi, answer(&c, &q).await) });
        }
    }

    let mut sched = Scheduler {
        mode: opts.mode,
        baseline: opts
            .baseline
            .as_ref()
            .and_then(|b| setup.candidates.iter().position(|c| &c.name == b)),
        questions: questions.clone(),
        names: setup.candidates.iter().map(|c| c.name.clone()).collect(),
        recorded,
        samples: opts.judge_samples,
        reused: 0,
        stale: 0,
        queued: HashSet::new(),
    };
    let mut judge_set: JoinSet<Done> = JoinSet::new();
    for mi in 0..setup.candidates.len() {
        for qi in 0..questions.len() {
            if answers[mi][qi].is_some() {
                for item in sched.ready(&answers, mi, qi) {
                    spawn_item(&mut judge_set, judge, questions, &answers, item);
                }
            }
        }
    }

    let total_gen = gen_set.len();
    let mut last_progress = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while !(gen_set.is_empty() && judge_set.is_empty()) {
        tokio::select! {
            Some(res) = gen_set.join_next(), if !gen_set.is_empty() => {
                let (mi, qi, res) = res.context("an answer task panicked")?;
                match res {
                    Ok(a) => {
                        awriters[&mi].send(&a).context("writing an answer")?;
                        if a.finish_reasons.iter().any(|f| f == "length") {
                            summary.truncated += 1;
                        }
                        summary.answers_generated += 1;
                        answers[mi][qi] = Some(Arc::new(a));
                        for item in sched.ready(&answers, mi, qi) {
                            spawn_item(&mut judge_set, judge, questions, &answers, item);
                        }
                    }
                    Err(e) => {
                        summary.failed("answer", &e.source.to_string());
                        errors.send(&error_record(&e)).context("writing errors.jsonl")?;
                        summary.answer_errors.push(e.to_string());
                    }
                }
            }
            Some(res) = judge_set.join_next(), if !judge_set.is_empty() => {
                let done = res.context("a judge task panicked")?;
                record(&jsender, done, &mut summary)?;
            }
            _ = &mut ctrl_c => {
                summary.interrupted = true;
                gen_set.abort_all();
                judge_set.abort_all();
                while gen_set.join_next().await.is_some() {}
                while judge_set.join_next().await.is_some() {}
                break;
            }
        }
        if progress && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            eprintln!(
                "shinpan: answers {}/{} · judgments made {} · in flight {}",
                summary.answers_generated + summary.answer_errors.len(),
                total_gen,
                summary.judgments_made,
                judge_set.len()
            );
        }
    }
    drop(jsender);
    errors.finish().context("writing errors.jsonl")?;
    for (_, w) in awriters {
        w.finish().context("writing answers")?;
    }
    journal.finish().context("writing judgments")?;
    summary.judgments_reused = sched.reused;
    summary.judgments_stale = sched.stale;
    summary.judgments_blocked = sched.blocked(&answers);
    Ok(Driven { answers, summary })
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

fn record(tx: &JsonlSender, done: Done, summary: &mut RunSummary) -> anyhow::Result<()> {
    use crate::records::Judgment;
    summary.judgments_made += 1;
    match done {
        Done::Single(j) => {
            if !j.has_verdict() {
                summary.judgment_errors += 1;
                summary.failed("judgment", j.error.as_deref().unwrap_or("no score"));
            }
            tx.send(&*j)?;
        }
        Done::Pair(j) => {
            if !j.has_verdict() {
                summary.judgment_errors += 1;
                for e in [&j.g1_error, &j.g2_error].into_iter().flatten() {
                    summary.failed("judgment", e);
                }
            }
            tx.send(&*j)?;
        }
    }
    Ok(())
}

fn spawn_item(
    set: &mut JoinSet<Done>,
    judge: &Judge,
    questions: &Arc<Vec<Question>>,
    answers: &Answers,
    item: Item,
) {
    let judge = judge.clone();
    let questions = questions.clone();
    match item {
        Item::Single {
            q,
            m,
            turn,
            sample,
            rubric,
        } => {
            let a = answers[m][q].clone().expect("scheduled only when present");
            set.spawn(async move {
                let q = &questions[q];
                Done::Single(Box::new(if rubric {
                    judge.rubric(q, &a, turn, sample).await
                } else {
                    judge.single(q, &a, turn, sample).await
                }))
            });
        }
        Item::Pair {
            q,
            m1,
            m2,
            turn,
            sample,
        } => {
            let a1 = answers[m1][q].clone().expect("scheduled only when present");
            let a2 = answers[m2][q].clone().expect("scheduled only when present");
            set.spawn(async move {
                Done::Pair(Box::new(
                    judge.pair(&questions[q], &a1, &a2, turn, sample).await,
                ))
            });
        }
    }
}
