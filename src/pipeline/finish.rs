//! Stage 4, finish: the files a run leaves are made to agree with each other, whether it
//! finished, failed items or was interrupted. The journal is compacted into the current
//! judgment file (one record per item, FastChat's format, written atomically, so
//! `show_result.py` counts exactly what `shinpan report` counts), `errors.jsonl` keeps only
//! answers still missing, the report is built from the current judgments and written, and the
//! manifest records how the run ended.

use std::collections::HashSet;
use std::io::Write;

use anyhow::Context;

use super::drive::Driven;
use super::setup::{Setup, evaluation};
use super::state::Answers;
use super::summary::RunSummary;
use crate::aggregate::answers::AnswerIndex;
use crate::aggregate::{Expectation, Report, summarize_pairs, summarize_single};
use crate::config::RunOptions;
use crate::error::OutputFailed;
use crate::records::spend::{SpendRow, Stage};
use crate::records::{
    AnswerRecord, Current, ErrorRecord, Evaluation, Inputs, ItemKey, Judgment, Manifest, PairGame,
    PairJudgment, RunState, SingleGrade, SingleJudgment,
};
use crate::store::{read_jsonl_if_exists, write_atomic};

/// Everything a run produced.
pub struct RunOutput {
    /// Summary of the work done.
    pub summary: RunSummary,
    /// The headline report of this run's models: its judge's, or a panel's pooled one.
    pub report: Report,
    /// Every report of the run: each judge's, then (a panel) the pooled one.
    pub reports: Vec<Report>,
}

/// Compacts the files, builds and writes the reports and the page, and only then closes the
/// manifest entries: `run.json` says finished once every output is in place. An output that
/// cannot be written leaves the run marked interrupted, with the error that says why.
pub(super) fn finish(opts: &RunOptions, setup: Setup, driven: Driven) -> anyhow::Result<RunOutput> {
    let Driven {
        answers,
        mut summary,
        answers_needed: (needed, missing),
    } = driven;
    count_requests(opts, &setup, &mut summary);
    let made = outputs(opts, &setup, answers, &mut summary, (needed, missing));
    let stopped = match (&made, &summary.stopped) {
        (Err(e), _) => Some(crate::pipeline::Stop::Output(format!("{e:#}"))),
        (Ok(_), s) => s.clone(),
    };
    let state = if stopped.is_some() {
        RunState::Interrupted
    } else {
        RunState::Finished
    };
    let closed = closed_manifest(opts, &setup, &summary, state).and_then(|m| {
        let m = Manifest {
            evaluations: m
                .evaluations
                .into_iter()
                .map(|mut e| {
                    if setup.scorers.iter().any(|s| s.name() == e.judge) && e.mode == opts.mode {
                        e.stopped = stopped.as_ref().map(|s| s.reason());
                    }
                    e
                })
                .collect(),
        };
        m.write(&setup.dir.manifest())
    });
    let failure = |e: String| -> anyhow::Error {
        // The first failure is the one to say: the drive's, if it stopped on one.
        match &summary.stopped {
            Some(crate::pipeline::Stop::Output(first)) => OutputFailed(first.clone()).into(),
            _ => OutputFailed(e).into(),
        }
    };
    let reports = made.map_err(|e| failure(format!("{e:#}")))?;
    closed.map_err(|e| failure(format!("{e:#}")))?;
    summary.elapsed = setup.started.elapsed();
    let report = reports.last().cloned().expect("a run has a scorer");
    Ok(RunOutput {
        summary,
        report,
        reports,
    })
}

/// The manifest with every scorer's entry closed as `state` (not written).
fn closed_manifest(
    opts: &RunOptions,
    setup: &Setup,
    summary: &RunSummary,
    state: RunState,
) -> anyhow::Result<Manifest> {
    let mut m = Manifest::read(&setup.dir.manifest())?;
    for s in 0..setup.scorers.len() {
        m = m.with(closing(opts, setup, s, summary, state));
    }
    Ok(m)
}

/// The manifest entry scorer `s` closes with: what this invocation spent on the answers and
/// on its judging.
fn closing(
    opts: &RunOptions,
    setup: &Setup,
    s: usize,
    summary: &RunSummary,
    state: RunState,
) -> Evaluation {
    Evaluation {
        spend: spend_of(&summary.spend, setup.scorers[s].name()),
        stopped: summary.stopped.as_ref().map(|s| s.reason()),
        ..evaluation(opts, setup, s, state)
    }
}

/// The rows of a scorer's evaluation: the answers (booked to each evaluation that needed
/// them) and its own judging.
fn spend_of(rows: &[SpendRow], scorer: &str) -> Vec<SpendRow> {
    rows.iter()
        .filter(|r| r.stage == Stage::Answer || r.model == scorer)
        .cloned()
        .collect()
}

/// Every output of the finish stage, the manifest aside: the current judgment files,
/// `errors.jsonl`, the reports, and the page (built as the manifest about to be written says).
fn outputs(
    opts: &RunOptions,
    setup: &Setup,
    answers: Answers,
    summary: &mut RunSummary,
    (needed, missing): (usize, usize),
) -> anyhow::Result<Vec<Report>> {
    let held: Vec<&AnswerRecord> = answers.iter().flatten().flatten().map(|a| &**a).collect();
    let inputs = Inputs::new(&setup.questions, held.iter().copied());
    let mut index = AnswerIndex::default();
    setup.questions.iter().for_each(|q| index.add_question(q));
    held.iter().for_each(|a| index.add_answer(a));
    let mut reports = Vec::new();
    let mut rows = Vec::new();
    for s in 0..setup.scorers.len() {
        let exp = expectation(opts, setup, summary, s)?;
        let (report, current) = current_report(opts, setup, s, &inputs, &index, &exp)?;
        reports.push(report);
        rows.push(current);
    }
    compact_errors(setup, &answers)?;
    summary.answers_missing = missing;
    let coverage = reports.iter().flat_map(|r| &r.coverage);
    summary.judgments_failed = coverage.clone().map(|c| c.failed + c.missing).sum();
    summary.items = needed + coverage.map(|c| c.expected).sum::<usize>();
    if let Some(pool) = opts.pool {
        let judges: Vec<String> = setup.scorers.iter().map(|s| s.name().to_string()).collect();
        let exp = expectation(opts, setup, summary, 0)?;
        let stats = &opts.stats;
        let panel = match rows.first() {
            Some(Judged::Grades(_)) => {
                let grades: Vec<Vec<SingleGrade>> = rows
                    .into_iter()
                    .filter_map(|r| match r {
                        Judged::Grades(g) => Some(g),
                        Judged::Games(_) => None,
                    })
                    .collect();
                crate::aggregate::panel::pooled_single(
                    opts.mode,
                    &judges,
                    &grades,
                    &reports,
                    pool,
                    stats,
                    &index,
                    Some(&exp),
                )
            }
            _ => {
                let games: Vec<Vec<PairGame>> = rows
                    .into_iter()
                    .filter_map(|r| match r {
                        Judged::Games(g) => Some(g),
                        Judged::Grades(_) => None,
                    })
                    .collect();
                crate::aggregate::panel::pooled_pairs(
                    &judges,
                    &games,
                    &reports,
                    pool,
                    opts.baseline.as_deref(),
                    stats,
                    &index,
                    Some(&exp),
                )
            }
        };
        reports.push(panel);
    }

    super::write_reports(setup.dir.root(), &reports)?;
    let state = if summary.interrupted() {
        RunState::Interrupted
    } else {
        RunState::Finished
    };
    let to_be = closed_manifest(opts, setup, summary, state)?;
    // The page reads what it shows from the files: the answers held are not needed again.
    drop(answers);
    super::write_page(setup.dir.root(), &opts.stats, Some(&to_be))?;
    Ok(reports)
}
/// A scorer's current records, as its report read them.
enum Judged {
    Grades(Vec<SingleGrade>),
    Games(Vec<PairGame>),
}

/// What scorer `s`'s report expects: this run's models, questions and turns, and what its
/// evaluation spent over every invocation.
fn expectation(
    opts: &RunOptions,
    setup: &Setup,
    summary: &RunSummary,
    s: usize,
) -> anyhow::Result<Expectation> {
    let name = setup.scorers[s].name();
    Ok(Expectation {
        mode: Some(opts.mode),
        models: opts.models.iter().map(|m| m.name.clone()).collect(),
        baseline: opts.baseline.clone(),
        questions: setup
            .questions
            .iter()
            .map(|q| (q.question_id.to_string(), q.turns.len() as u32))
            .collect(),
        reasons: summary
            .stopped
            .iter()
            .map(|s| format!("the run was {}", s.reason()))
            .collect(),
        aspects: opts.aspects.iter().map(|(a, _)| a.clone()).collect(),
        plan: opts.plan,
        bench: opts.bench.clone(),
        set: Some(setup.set.clone()),
        scale: setup.scale,
        panel: if setup.scorers.len() > 1 {
            setup.scorers.iter().map(|s| s.name().to_string()).collect()
        } else {
            Vec::new()
        },
        pool: opts.pool,
        spend: {
            // What earlier invocations of this evaluation spent, and this one.
            let mut spend = Manifest::read(&setup.dir.manifest())?
                .entry(&super::setup::judgments_entry(name, opts.mode))
                .map(|e| e.spend.clone())
                .unwrap_or_default();
            crate::records::spend::add_rows(&mut spend, &spend_of(&summary.spend, name));
            spend
        },
    })
}

/// Writes scorer `s`'s current judgment file and builds its report from it, so the two agree.
fn current_report(
    opts: &RunOptions,
    setup: &Setup,
    s: usize,
    inputs: &Inputs,
    index: &AnswerIndex,
    expected: &Expectation,
) -> anyhow::Result<(Report, Judged)> {
    let name = setup.scorers[s].name();
    let (journal, view) = (
        setup.dir.journal(name, opts.mode),
        setup.dir.judgments(name, opts.mode),
    );
    let names: HashSet<&str> = opts.models.iter().map(|m| m.name.as_str()).collect();
    // This run's models and scorer (the file may hold others, from earlier runs).
    let ours = |k: ItemKey| {
        k.judge == name
            && names.contains(k.model_1)
            && (k.model_2.is_empty() || names.contains(k.model_2))
    };
    let exp = Some(expected);
    if opts.mode.is_graded() {
        let all: Vec<SingleJudgment> = read_all(&journal)?;
        let refs: Vec<&SingleJudgment> = all.iter().collect();
        let current = Current::grades(&refs);
        let rows = write_view(&view, current.rows(), inputs)?;
        let grades: Vec<SingleGrade> = rows
            .into_iter()
            .filter(|r| ours(r.key()))
            .map(SingleGrade::from)
            .collect();
        let refs: Vec<&SingleGrade> = grades.iter().collect();
        let result = summarize_single(&refs, &opts.stats, index, exp);
        let mut report = Report::single(opts.mode, name, result, exp);
        report.tasks = crate::aggregate::tasks::summarize(&refs, opts.stats.bootstrap);
        Ok((report, Judged::Grades(grades)))
    } else {
        let all: Vec<PairJudgment> = read_all(&journal)?;
        let refs: Vec<&PairJudgment> = all.iter().collect();
        let current = Current::games(&refs);
        let rows = write_view(&view, current.rows(), inputs)?;
        let games: Vec<PairGame> = rows
            .into_iter()
            .filter(|r| ours(r.key()))
            .map(PairGame::from)
            .collect();
        let refs: Vec<&PairGame> = games.iter().collect();
        let base = opts.baseline.as_deref();
        let result = summarize_pairs(&refs, base, &opts.stats, index, exp);
        let report = Report::pairwise(name, opts.baseline.clone(), result, exp);
        Ok((report, Judged::Games(games)))
    }
}

/// Adds the clients' and the cache's counters to the summary.
fn count_requests(opts: &RunOptions, setup: &Setup, summary: &mut RunSummary) {
    use std::sync::atomic::Ordering::Relaxed;
    for c in &setup.clients {
        let s = c.stats();
        summary.attempts += s.attempts.load(Relaxed);
        summary.rate_limited += s.rate_limited.load(Relaxed);
        summary.tokens += s.tokens.load(Relaxed);
        summary.invalid_utf8 += s.invalid_utf8.load(Relaxed);
        summary.usage_estimated += s.usage_estimated.load(Relaxed);
        summary
            .concurrency
            .extend(c.concurrency().into_iter().filter(|k| k.most > 0));
    }
    if let Some(c) = &setup.cache {
        summary.cache_hits = c.hits.load(Relaxed);
    }
    summary.spend =
        crate::records::spend::spend_rows(setup.clients.iter().map(|c| c.ledger().rows()), |m| {
            opts.models
                .iter()
                .chain(&opts.judges)
                .find(|o| o.name == m)
                .and_then(|o| o.price)
        });
    summary.elapsed = setup.started.elapsed();
}

/// Every record of a journal.
fn read_all<T: serde::de::DeserializeOwned>(journal: &std::path::Path) -> anyhow::Result<Vec<T>> {
    Ok(read_jsonl_if_exists::<T>(journal)
        .with_context(|| journal.display().to_string())?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// Writes the current judgment file: the records that count (by the rule of
/// [`crate::records::current`]), less judgments made on answers the run no longer holds.
/// Written atomically, so a reader never sees half a file. Returns the records written.
fn write_view<'a, T: Judgment + serde::Serialize>(
    view: &std::path::Path,
    current: Vec<&'a T>,
    inputs: &Inputs,
) -> anyhow::Result<Vec<&'a T>> {
    let rows: Vec<&T> = current.into_iter().filter(|r| inputs.matches(*r)).collect();
    let mut bytes = Vec::new();
    for r in &rows {
        serde_json::to_writer(&mut bytes, r)?;
        bytes.write_all(b"\n")?;
    }
    write_atomic(view, &bytes).with_context(|| view.display().to_string())?;
    Ok(rows)
}

/// Rewrites `errors.jsonl` to list only answers still missing (the latest failure of each),
/// removing it when none is.
fn compact_errors(setup: &Setup, answers: &Answers) -> anyhow::Result<()> {
    let path = setup.dir.errors();
    let held: HashSet<(&str, &str)> = answers
        .iter()
        .flatten()
        .flatten()
        .map(|a| (a.model_id.as_str(), a.question_id.as_str()))
        .collect();
    let rows: Vec<ErrorRecord> = read_jsonl_if_exists::<ErrorRecord>(&path)
        .with_context(|| path.display().to_string())?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let mut keep: Vec<&ErrorRecord> = rows
        .iter()
        .rev()
        .filter(|r| !held.contains(&(r.model.as_str(), r.question_id.as_str())))
        .filter(|r| seen.insert((r.model.as_str(), r.question_id.as_str())))
        .collect();
    keep.reverse();
    if keep.is_empty() {
        std::fs::remove_file(&path).with_context(|| path.display().to_string())?;
    } else if keep.len() < rows.len() {
        let mut bytes = Vec::new();
        for r in keep {
            serde_json::to_writer(&mut bytes, r)?;
            bytes.write_all(b"\n")?;
        }
        write_atomic(&path, &bytes).with_context(|| path.display().to_string())?;
    }
    Ok(())
}
