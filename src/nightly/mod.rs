//! Recurring runs. A config with a `[nightly]` table makes `shinpan run` write each run to
//! `OUT/<date or --name>/`, add one history line per mode and model ([`lines`]), and compare
//! each model with the previous comparable run — same questions, judge, mode and baseline —
//! so a CI job can fail on a regression that the intervals say is real ([`compare`]).

pub mod compare;

pub use compare::{Change, Status, Threshold, changes};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::aggregate::{ModelSummary, Report};
use crate::records::{AnswerRecord, HistoryLine, PairJudgment, RunDir, SeriesKey, SingleJudgment};
use crate::store::read_jsonl_if_exists;
use crate::types::{Mode, QuestionId};

/// What every line of one run shares.
pub struct RunContext<'a> {
    /// The run's name.
    pub run: &'a str,
    /// When it finished (RFC 3339).
    pub date: &'a str,
    /// `sha256:` of the config file.
    pub config_digest: &'a str,
    /// `sha256:` of the run's question set as judged (its `questions.jsonl`).
    pub questions_digest: &'a str,
    /// The run's directory.
    pub dir: &'a Path,
}

/// `sha256:` and the hex digest of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The history lines of one mode's report: one per model listed in it.
pub fn lines(ctx: &RunContext, r: &Report, run_tokens: u64) -> anyhow::Result<Vec<HistoryLine>> {
    let dir = RunDir::new(ctx.dir);
    let judge_tokens = judge_tokens(&dir, r)?;
    let mut out = Vec::new();
    for m in &r.models {
        let scale = match m {
            ModelSummary::Single(s) => Some(s.scale),
            ModelSummary::Pair(_) => None,
        };
        // A task run's figure is llm-jp-eval's AVG (0-1), its task scores beside it.
        let task = match m {
            ModelSummary::Single(s) => r
                .tasks
                .as_ref()
                .and_then(|t| t.iter().find(|t| t.model == s.model)),
            ModelSummary::Pair(_) => None,
        };
        let scale = if task.is_some() { None } else { scale };
        let (model, metric, value, ci, n, errors, figures) = match m {
            ModelSummary::Single(s) if let Some(t) = task => (
                &s.model,
                "llm_jp_eval_avg",
                t.avg,
                t.avg_ci,
                s.n,
                s.errors,
                json!({
                    "scores": t.scores.iter().map(|x| (x.name.clone(), json!({"value": x.value, "ci": x.ci}))).collect::<BTreeMap<_, _>>(),
                    "categories": t.categories.iter().map(|c| (c.name.clone(), json!(c.value))).collect::<BTreeMap<_, _>>(),
                }),
            ),
            ModelSummary::Single(s) => (
                &s.model,
                "score",
                s.score,
                s.score_ci,
                s.n,
                s.errors,
                json!({
                    "turn1": s.turn1, "turn2": s.turn2, "answer_chars": s.answer_chars,
                    "non_japanese": s.non_japanese,
                    "aspects": s.aspects.iter().map(|(k, a)| (k.clone(), json!({"score": a.score, "score_ci": a.score_ci}))).collect::<BTreeMap<_, _>>(),
                }),
            ),
            ModelSummary::Pair(p) => (
                &p.model,
                "adjusted_win_rate",
                p.adjusted_win_rate,
                p.adjusted_win_rate_ci,
                p.n,
                p.errors,
                json!({
                    "wins": p.wins, "losses": p.losses, "ties": p.ties, "win_rate": p.win_rate,
                    "loss_rate": p.loss_rate, "position_consistency": p.position_consistency,
                    "bt_rating": p.bt_rating, "bt_ci": p.bt_ci,
                    "predicted_win_rate": p.predicted_win_rate, "lc_win_rate": p.lc_win_rate,
                    "answer_chars": p.answer_chars, "non_japanese": p.non_japanese,
                }),
            ),
        };
        let failed = r
            .coverage
            .iter()
            .find(|c| &c.model == model)
            .map(|c| c.failed + c.missing);
        let figures = match figures {
            Value::Object(m) => m
                .into_iter()
                .filter(|(_, v)| !v.is_null() && v != &json!({}))
                .collect(),
            _ => BTreeMap::new(),
        };
        out.push(HistoryLine {
            date: ctx.date.to_string(),
            run: ctx.run.to_string(),
            config_digest: ctx.config_digest.to_string(),
            questions_digest: ctx.questions_digest.to_string(),
            key: SeriesKey {
                model: model.clone(),
                mode: r.mode.as_str().to_string(),
                judge: r.judge.clone(),
                baseline: r.baseline.clone(),
                metric: metric.to_string(),
            },
            value,
            ci,
            scale,
            n,
            errors: failed.unwrap_or(errors).max(errors),
            partial: r.partial,
            regressed: false,
            figures,
            answer_tokens: answer_tokens(&dir, model)?,
            judge_tokens: judge_tokens
                .get(model.as_str())
                .copied()
                .unwrap_or(0.0)
                .round() as u64,
            run_tokens,
            answer_cost: crate::records::spend::total_cost(
                r.spend.iter().filter(|s| {
                    s.model == *model && s.stage == crate::records::spend::Stage::Answer
                }),
            ),
            run_cost: crate::records::spend::total_cost(&r.spend),
            shinpan: env!("CARGO_PKG_VERSION").to_string(),
        });
    }
    Ok(out)
}

/// Tokens of a model's current answers (the last record of each question counts).
fn answer_tokens(dir: &RunDir, model: &str) -> anyhow::Result<u64> {
    let path = dir.answers(model);
    let mut last: HashMap<QuestionId, u64> = HashMap::new();
    for (_, a) in read_jsonl_if_exists::<AnswerRecord>(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    {
        last.insert(a.question_id, a.usage.map(|u| u.total()).unwrap_or(0));
    }
    Ok(last.values().sum())
}

/// Tokens of the judgments in a report's current judgment file, per model: a grade's to its
/// model; a game's to the model playing the baseline, or half to each player without one.
fn judge_tokens(dir: &RunDir, r: &Report) -> anyhow::Result<HashMap<String, f64>> {
    // A panel's figure cost every judge's tokens.
    let judges = match &r.panel {
        Some(p) => p.judges.clone(),
        None => vec![r.judge.clone()],
    };
    let mut out: HashMap<String, f64> = HashMap::new();
    for judge in judges {
        one_judge_tokens(dir, r, &judge, &mut out)?;
    }
    Ok(out)
}

fn one_judge_tokens(
    dir: &RunDir,
    r: &Report,
    judge: &str,
    out: &mut HashMap<String, f64>,
) -> anyhow::Result<()> {
    let path = dir.judgments(judge, r.mode);
    let bad = |e: crate::store::StoreError| anyhow::anyhow!("{}: {e}", path.display());
    match r.mode {
        Mode::Single | Mode::Rubric => {
            for (_, j) in read_jsonl_if_exists::<SingleJudgment>(&path).map_err(bad)? {
                *out.entry(j.model).or_default() += j.usage.map(|u| u.total()).unwrap_or(0) as f64;
            }
        }
        Mode::PairwiseBaseline | Mode::PairwiseAll => {
            for (_, j) in read_jsonl_if_exists::<PairJudgment>(&path).map_err(bad)? {
                let t = j.usage.map(|u| u.total()).unwrap_or(0) as f64;
                match r.baseline.as_deref() {
                    Some(b) if j.model_1 == b => *out.entry(j.model_2).or_default() += t,
                    Some(_) => *out.entry(j.model_1).or_default() += t,
                    None => {
                        *out.entry(j.model_1).or_default() += t / 2.0;
                        *out.entry(j.model_2).or_default() += t / 2.0;
                    }
                }
            }
        }
    }
    Ok(())
}

/// One model's figure in one mode, run by run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Series {
    /// The model, mode, judge, baseline and figure.
    #[serde(flatten)]
    pub key: SeriesKey,
    /// The runs, oldest first.
    pub points: Vec<Point>,
}

/// One run of a series.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    /// The run.
    pub run: String,
    /// When it finished.
    pub date: String,
    /// The figure and its interval.
    pub value: Option<f64>,
    pub ci: Option<[f64; 2]>,
    /// Items behind it, and those without a verdict.
    pub n: usize,
    pub errors: usize,
    /// Whether the run's report was partial.
    pub partial: bool,
    /// The question set (`sha256:`); a change of it starts a new comparison.
    pub questions_digest: String,
    /// Tokens of the model's answers and of its judgments.
    pub tokens: u64,
    /// The change against the previous comparable run, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// The history as series (the last line of each run counts), in the order models first
/// appear; `model` keeps one model's.
pub fn series(lines: Vec<HistoryLine>, model: Option<&str>) -> Vec<Series> {
    let mut lines = crate::records::latest_per_run(lines);
    lines.retain(|l| model.is_none_or(|m| l.key.model == m));
    lines.sort_by(|a, b| a.date.cmp(&b.date));
    // Each series' lines, oldest first; a change looks back within its own series only.
    let mut grouped: Vec<(SeriesKey, Vec<HistoryLine>)> = Vec::new();
    for l in lines {
        match grouped.iter_mut().find(|(k, _)| *k == l.key) {
            Some((_, v)) => v.push(l),
            None => grouped.push((l.key.clone(), vec![l])),
        }
    }
    grouped
        .into_iter()
        .map(|(key, lines)| {
            let points = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let mut change =
                        changes(&lines[..i], std::slice::from_ref(l), None, None).pop();
                    // The gate's verdict when the run was made (its threshold is not kept).
                    if let Some(c) = change.as_mut().filter(|_| l.regressed) {
                        c.status = Status::Regressed;
                    }
                    Point {
                        run: l.run.clone(),
                        date: l.date.clone(),
                        value: l.value,
                        ci: l.ci,
                        n: l.n,
                        errors: l.errors,
                        partial: l.partial,
                        questions_digest: l.questions_digest.clone(),
                        tokens: l.answer_tokens + l.judge_tokens,
                        change,
                    }
                })
                .collect();
            Series { key, points }
        })
        .collect()
}
