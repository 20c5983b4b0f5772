//! The streamed pipeline of one run: missing answers are generated while judging starts on
//! each item as soon as the answers it needs exist; answers and judgments go to their
//! append-only files as they complete; the report is built from the judgment file at the end.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;

mod errors;
mod output;
mod schedule;
mod summary;

pub use output::{print_reports, write_reports};
pub use summary::RunSummary;

use crate::aggregate::{Mode, Report};
use crate::bench::{AnswerRecord, Question, attach_references, load_questions};
use crate::client::{Cache, CacheMode, Client};
use crate::config::{ModelOptions, RunOptions, UsageError};
use crate::generate::{Candidate, GenerateError, answer};
use crate::judge::{Judge, PairJudgment, Prompts, SingleJudgment};
use crate::store::{JsonlSender, JsonlWriter, read_jsonl_if_exists};
use crate::util::safe_file_name;
use errors::{ErrorRecord, LazyWriter};
use output::run_report;
use schedule::{Item, PairKey, Recorded, Scheduler, SingleKey};

/// Everything a run produced.
pub struct RunOutput {
    /// Summary of the work done.
    pub summary: RunSummary,
    /// The report of this run's models.
    pub report: Report,
}

enum Done {
    Single(Box<SingleJudgment>),
    Pair(Box<PairJudgment>),
}

/// One client per distinct endpoint, so models sharing an endpoint share its limits; all of
/// them share the response cache.
fn clients(
    opts: &RunOptions,
    cache: &Option<Arc<Cache>>,
) -> Result<HashMap<String, Client>, UsageError> {
    let mut out: HashMap<String, Client> = HashMap::new();
    for m in opts.models.iter().chain([&opts.judge]) {
        if let std::collections::hash_map::Entry::Vacant(e) = out.entry(endpoint_key(m)) {
            let c = Client::new(m.endpoint.clone())
                .map_err(|e| UsageError(format!("model {}: {e}", m.name)))?
                .with_cache(cache.clone(), opts.cache_mode);
            e.insert(c);
        }
    }
    Ok(out)
}

/// Opens the run's response cache (a bad file is a usage error, before anything is written).
fn open_cache(opts: &RunOptions) -> Result<Option<Arc<Cache>>, UsageError> {
    match (&opts.cache, opts.cache_mode) {
        (Some(path), CacheMode::Use | CacheMode::Refresh) => Cache::open(path)
            .map(|c| Some(Arc::new(c)))
            .map_err(|e| UsageError(format!("{e} (--cache FILE, or --no-cache)"))),
        _ => Ok(None),
    }
}

fn endpoint_key(m: &ModelOptions) -> String {
    format!("{:?}", m.endpoint)
}

/// Answers file of a model inside a run directory.
pub fn answers_path(out: &std::path::Path, model: &str) -> PathBuf {
    out.join("answers")
        .join(format!("{}.jsonl", safe_file_name(model)))
}

/// Judgment file of a judge and mode inside a run directory.
pub fn judgments_path(out: &std::path::Path, judge: &str, mode: Mode) -> PathBuf {
    let kind = match mode {
        Mode::Single => "single",
        Mode::Rubric => "rubric",
        Mode::PairwiseBaseline | Mode::PairwiseAll => "pair",
    };
    out.join("judgments")
        .join(format!("{}_{kind}.jsonl", safe_file_name(judge)))
}

/// Takes the run directory for this process: two runs appending to the same files would
/// interleave their records, so a second one is refused (exit 2) while the first holds the
/// lock. The kernel drops the lock when the process ends, however it ends.
fn lock_out_dir(out: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::io::Write;
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    let path = out.join(".shinpan.lock");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| path.display().to_string())?;
    match f.try_lock() {
        Ok(()) => {
            f.set_len(0)?;
            writeln!(f, "{}", std::process::id())?;
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            Err(UsageError(format!(
                "{}: another shinpan run (pid {}) is writing to this directory; wait for it or give another --out",
                out.display(),
                pid.trim()
            ))
            .into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::from(e).context(path.display().to_string()))
        }
    }
}

/// Loads questions (and references) named by the options.
pub fn load_inputs(opts: &RunOptions) -> anyhow::Result<Vec<Question>> {
    let mut qs = load_questions(&opts.questions).map_err(|e| UsageError(e.to_string()))?;
    if let Some(r) = &opts.references {
        attach_references(&mut qs, r).map_err(|e| UsageError(e.to_string()))?;
    }
    Ok(qs)
}

/// Runs one evaluation: generate what is missing, judge, write judgments and the report.
pub async fn run(opts: &RunOptions, progress: bool) -> anyhow::Result<RunOutput> {
    let started = Instant::now();
    let questions = Arc::new(load_inputs(opts)?);
    let prompts =
        Arc::new(Prompts::load(opts.prompts.as_deref()).map_err(|e| UsageError(e.to_string()))?);
    let cache = open_cache(opts)?;
    let clients = clients(opts, &cache)?;
    let candidates: Vec<Candidate> = opts
        .models
        .iter()
        .map(|m| Candidate {
            name: m.name.clone(),
            api_model: m.api_model.clone(),
            client: clients[&endpoint_key(m)].clone(),
            system_prompt: m.system_prompt.clone(),
            temperature: m.temperature,
            max_tokens: m.max_tokens,
        })
        .collect();
    let judge = Judge {
        client: clients[&endpoint_key(&opts.judge)].clone(),
        name: opts.judge.name.clone(),
        api_model: opts.judge.api_model.clone(),
        prompts,
        max_tokens: opts.judge_max_tokens,
        temperature: opts.judge.temperature.unwrap_or(0.0),
        reasks: opts.reasks,
        aspects: opts.aspects.clone(),
    };

    let mut summary = RunSummary::default();
    let unreferenced = questions
        .iter()
        .filter(|q| q.needs_reference() && q.reference.as_ref().is_none_or(|r| r.is_empty()))
        .count();
    if unreferenced > 0 && progress {
        eprintln!(
            "shinpan: warning: {unreferenced} math/reasoning/coding question(s) have no reference answer and are judged without one (--references)"
        );
    }
    let qindex: HashMap<&str, usize> = questions
        .iter()
        .enumerate()
        .map(|(i, q)| (q.question_id.0.as_str(), i))
        .collect();

    // Answers already on disk: complete ones (every turn answered) are reused.
    let mut answers: Vec<Vec<Option<Arc<AnswerRecord>>>> =
        vec![vec![None; questions.len()]; candidates.len()];
    for (mi, c) in candidates.iter().enumerate() {
        let path = answers_path(&opts.out, &c.name);
        let rows = read_jsonl_if_exists::<AnswerRecord>(&path)
            .with_context(|| path.display().to_string())
            .map_err(|e| UsageError(format!("{e:#}")))?;
        for (_, mut a) in rows {
            if let Some(&qi) = qindex.get(a.question_id.0.as_str())
                && a.turns().len() >= questions[qi].turns.len()
            {
                a.model_id = c.name.clone();
                answers[mi][qi] = Some(Arc::new(a));
            }
        }
    }

    // Judgments already on disk: the last record of each item counts; it is reused when it
    // has a verdict and was made on the same inputs (its digest matches the answers now).
    let jpath = judgments_path(&opts.out, &judge.name, opts.mode);
    let mut done_single: HashMap<SingleKey, Recorded> = HashMap::new();
    let mut done_pair: HashMap<PairKey, Recorded> = HashMap::new();
    if opts.mode.is_graded() {
        for (_, r) in read_jsonl_if_exists::<crate::aggregate::SingleGrade>(&jpath)
            .with_context(|| jpath.display().to_string())?
        {
            if r.judge.model() == judge.name {
                let rec = Recorded {
                    valid: r.valid_score().is_some(),
                    digest: r.input_digest,
                };
                done_single.insert((r.question_id.0, r.model, r.turn, r.sample), rec);
            }
        }
    } else {
        for (_, r) in read_jsonl_if_exists::<crate::aggregate::PairGame>(&jpath)
            .with_context(|| jpath.display().to_string())?
        {
            if r.judge.model() == judge.name {
                let (outcome, _) = crate::aggregate::combine(r.g1_winner, r.g2_winner);
                let rec = Recorded {
                    valid: outcome != crate::aggregate::GameOutcome::Error,
                    digest: r.input_digest,
                };
                done_pair.insert(
                    (r.question_id.0, r.model_1, r.model_2, r.turn, r.sample),
                    rec,
                );
            }
        }
    }

    let _lock = lock_out_dir(&opts.out)?;
    let jwriter = JsonlWriter::open(&jpath).with_context(|| jpath.display().to_string())?;
    let mut errors = LazyWriter::new(opts.out.join("errors.jsonl"));
    let jsender = jwriter.sender();
    let mut awriters: HashMap<usize, JsonlWriter> = HashMap::new();
    let mut gen_set: JoinSet<(usize, usize, Result<AnswerRecord, GenerateError>)> = JoinSet::new();
    for (mi, c) in candidates.iter().enumerate() {
        for (qi, q) in questions.iter().enumerate() {
            if answers[mi][qi].is_some() {
                summary.answers_reused += 1;
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = awriters.entry(mi) {
                let p = answers_path(&opts.out, &c.name);
                e.insert(JsonlWriter::open(&p).with_context(|| p.display().to_string())?);
            }
            let c = c.clone();
            let q = q.clone();
            gen_set.spawn(async move { (mi, qi, answer(&c, &q).await) });
        }
    }

    let mut sched = Scheduler {
        mode: opts.mode,
        baseline: opts
            .baseline
            .as_ref()
            .and_then(|b| candidates.iter().position(|c| &c.name == b)),
        questions: questions.clone(),
        names: candidates.iter().map(|c| c.name.clone()).collect(),
        done_single,
        done_pair,
        samples: opts.judge_samples,
        reused: 0,
        stale: 0,
        queued: HashSet::new(),
    };
    let mut judge_set: JoinSet<Done> = JoinSet::new();
    for mi in 0..candidates.len() {
        for qi in 0..questions.len() {
            if answers[mi][qi].is_some() {
                for item in sched.ready(&answers, mi, qi) {
                    spawn_item(&mut judge_set, &judge, &questions, &answers, item);
                }
            }
        }
    }

    let total_gen = gen_set.len();
    let mut last_progress = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if gen_set.is_empty() && judge_set.is_empty() {
            break;
        }
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
                            spawn_item(&mut judge_set, &judge, &questions, &answers, item);
                        }
                    }
                    Err(e) => {
                        summary.failed("answer", &e.source.to_string());
                        errors.send(&ErrorRecord::answer(&e)).context("writing errors.jsonl")?;
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
    jwriter.finish().context("writing judgments")?;
    summary.judgments_reused = sched.reused;
    summary.judgments_stale = sched.stale;
    summary.judgments_blocked = sched.blocked(&answers);
    for c in clients.values() {
        let s = c.stats();
        use std::sync::atomic::Ordering::Relaxed;
        summary.attempts += s.attempts.load(Relaxed);
        summary.rate_limited += s.rate_limited.load(Relaxed);
        summary.tokens += s.tokens.load(Relaxed);
    }
    if let Some(c) = &cache {
        summary.cache_hits = c.hits.load(std::sync::atomic::Ordering::Relaxed);
    }

    let report = run_report(opts, &jpath, &questions, &answers)?;
    write_reports(&opts.out, std::slice::from_ref(&report))?;
    summary.elapsed = started.elapsed();
    Ok(RunOutput { summary, report })
}

fn record(tx: &JsonlSender, done: Done, summary: &mut RunSummary) -> anyhow::Result<()> {
    summary.judgments_made += 1;
    match done {
        Done::Single(j) => {
            if j.valid_score().is_none() {
                summary.judgment_errors += 1;
                summary.failed("judgment", j.error.as_deref().unwrap_or("no score"));
            }
            tx.send(&*j)?;
        }
        Done::Pair(j) => {
            if crate::aggregate::combine(j.g1_winner, j.g2_winner).0
                == crate::aggregate::GameOutcome::Error
            {
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
    answers: &[Vec<Option<Arc<AnswerRecord>>>],
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
