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
use crate::records::{
    AnswerRecord, Current, ErrorRecord, Evaluation, Inputs, ItemKey, Judgment, Manifest, PairGame,
    PairJudgment, RunState, SingleGrade, SingleJudgment,
};
use crate::store::{read_jsonl_if_exists, write_atomic};

/// Everything a run produced.
pub struct RunOutput {
    /// Summary of the work done.
    pub summary: RunSummary,
    /// The report of this run's models.
    pub report: Report,
}

/// Compacts the files, builds and writes the reports and the page, and only then closes the
/// manifest entry: `run.json` says finished once every output is in place. An output that
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
    let closed = Manifest::update(
        &setup.dir.manifest(),
        Evaluation {
            stopped: stopped.as_ref().map(|s| s.reason()),
            ..closing(opts, &setup, &summary, state)
        },
    );
    let failure = |e: String| -> anyhow::Error {
        // The first failure is the one to say: the drive's, if it stopped on one.
        match &summary.stopped {
            Some(crate::pipeline::Stop::Output(first)) => OutputFailed(first.clone()).into(),
            _ => OutputFailed(e).into(),
        }
    };
    let report = made.map_err(|e| failure(format!("{e:#}")))?;
    closed.map_err(|e| failure(format!("{e:#}")))?;
    summary.elapsed = setup.started.elapsed();
    Ok(RunOutput { summary, report })
}

/// The manifest entry a run closes with.
fn closing(opts: &RunOptions, setup: &Setup, summary: &RunSummary, state: RunState) -> Evaluation {
    Evaluation {
        spend: summary.spend.clone(),
        stopped: summary.stopped.as_ref().map(|s| s.reason()),
        ..evaluation(opts, setup, state)
    }
}

/// Every output of the finish stage, the manifest aside: the current judgment file,
/// `errors.jsonl`, the reports, and the page (built as the manifest about to be written says).
fn outputs(
    opts: &RunOptions,
    setup: &Setup,
    answers: Answers,
    summary: &mut RunSummary,
    (needed, missing): (usize, usize),
) -> anyhow::Result<Report> {
    let report = current_report(opts, setup, &answers, summary)?;
    compact_errors(setup, &answers)?;
    summary.answers_missing = missing;
    summary.judgments_failed = report.coverage.iter().map(|c| c.failed + c.missing).sum();
    summary.items = needed + report.coverage.iter().map(|c| c.expected).sum::<usize>();
    super::write_reports(setup.dir.root(), std::slice::from_ref(&report))?;
    let state = if summary.interrupted() {
        RunState::Interrupted
    } else {
        RunState::Finished
    };
    let to_be = Manifest::updated(&setup.dir.manifest(), closing(opts, setup, summary, state))?;
    // The page reads what it shows from the files: the answers held are not needed again.
    drop(answers);
    super::write_page(setup.dir.root(), &opts.stats, Some(&to_be))?;
    Ok(report)
}

/// Writes the current judgment file and builds the run's report from it, so the two agree.
fn current_report(
    opts: &RunOptions,
    setup: &Setup,
    answers: &Answers,
    summary: &RunSummary,
) -> anyhow::Result<Report> {
    let held: Vec<&AnswerRecord> = answers.iter().flatten().flatten().map(|a| &**a).collect();
    let inputs = Inputs::new(&setup.questions, held.iter().copied());
    let mut index = AnswerIndex::default();
    setup.questions.iter().for_each(|q| index.add_question(q));
    held.iter().for_each(|a| index.add_answer(a));
    let expected = Expectation {
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
        scale: setup.scale,
        spend: {
            // What earlier invocations of this evaluation spent, and this one.
            let mut spend = Manifest::read(&setup.dir.manifest())?
                .entry(&super::setup::judgments_entry(opts))
                .map(|e| e.spend.clone())
                .unwrap_or_default();
            crate::client::add_rows(&mut spend, &summary.spend);
            spend
        },
    };
    let (journal, view) = (
        setup.dir.journal(&setup.judge.name, opts.mode),
        setup.dir.judgments(&setup.judge.name, opts.mode),
    );
    let names: HashSet<&str> = opts.models.iter().map(|m| m.name.as_str()).collect();
    // This run's models and judge (the file may hold others, from earlier runs).
    let ours = |k: ItemKey| {
        k.judge == setup.judge.name
            && names.contains(k.model_1)
            && (k.model_2.is_empty() || names.contains(k.model_2))
    };
    let exp = Some(&expected);
    if opts.mode.is_graded() {
        let all: Vec<SingleJudgment> = read_all(&journal)?;
        let refs: Vec<&SingleJudgment> = all.iter().collect();
        let current = Current::grades(&refs);
        let rows = write_view(&view, current.rows(), &inputs)?;
        let grades: Vec<SingleGrade> = rows
            .into_iter()
            .filter(|r| ours(r.key()))
            .map(SingleGrade::from)
            .collect();
        let refs: Vec<&SingleGrade> = grades.iter().collect();
        let result = summarize_single(&refs, &opts.stats, &index, exp);
        Ok(Report::single(opts.mode, &setup.judge.name, result, exp))
    } else {
        let all: Vec<PairJudgment> = read_all(&journal)?;
        let refs: Vec<&PairJudgment> = all.iter().collect();
        let current = Current::games(&refs);
        let rows = write_view(&view, current.rows(), &inputs)?;
        let games: Vec<PairGame> = rows
            .into_iter()
            .filter(|r| ours(r.key()))
            .map(PairGame::from)
            .collect();
        let refs: Vec<&PairGame> = games.iter().collect();
        let base = opts.baseline.as_deref();
        let result = summarize_pairs(&refs, base, &opts.stats, &index, exp);
        Ok(Report::pairwise(
            &setup.judge.name,
            opts.baseline.clone(),
            result,
            exp,
        ))
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
    }
    if let Some(c) = &setup.cache {
        summary.cache_hits = c.hits.load(Relaxed);
    }
    summary.spend =
        crate::records::spend::spend_rows(setup.clients.iter().map(|c| c.ledger().rows()), |m| {
            opts.models
                .iter()
                .chain([&opts.judge])
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
