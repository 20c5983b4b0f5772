//! The history of a recurring run (`history.jsonl`): one line per run, mode and model with
//! the figure the regression gate watches and its interval. Append-only; a run repeated under
//! the same name adds lines again, and the last line of a (run, mode, judge, baseline, model)
//! counts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::UsageError;
use crate::store::{JsonlWriter, read_jsonl_if_exists};

/// What makes figures of different runs comparable: the same model, mode, judge, baseline and
/// watched figure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey {
    /// The model.
    pub model: String,
    /// The evaluation mode.
    pub mode: String,
    /// The judge model.
    pub judge: String,
    /// The baseline (pairwise-baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// The figure watched: `score` (single, rubric) or `adjusted_win_rate` (pairwise).
    pub metric: String,
}

/// One model's figures in one mode of one run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryLine {
    /// When the run finished (RFC 3339, UTC).
    pub date: String,
    /// The run's name: its directory under OUT (the date, or `--name`).
    pub run: String,
    /// `sha256:` of the config file's bytes.
    pub config_digest: String,
    /// `sha256:` of the question set as judged (turns and references).
    pub questions_digest: String,
    /// Which series the line belongs to.
    #[serde(flatten)]
    pub key: SeriesKey,
    /// Its value (`null` when nothing was judged).
    pub value: Option<f64>,
    /// Its 95% bootstrap interval.
    pub ci: Option<[f64; 2]>,
    /// The scale of a mean grade (absent: a win rate, or 1-10 for lines written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<crate::types::Scale>,
    /// Items (graded turns, or games) behind the value.
    pub n: usize,
    /// The model's items without a verdict (failed or missing).
    pub errors: usize,
    /// Whether the run's report was partial (such a run is never the comparison point).
    pub partial: bool,
    /// Whether the regression gate failed on this line when the run was made.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub regressed: bool,
    /// Other figures of the model (turn means, win and loss rates, Bradley-Terry rating with
    /// its interval, position consistency), by their report names.
    #[serde(default)]
    pub figures: BTreeMap<String, serde_json::Value>,
    /// Tokens of the model's answers (as recorded with them, whether paid this run or reused).
    pub answer_tokens: u64,
    /// Tokens of the judgments of the model's items (a game's tokens go to the model playing
    /// the baseline, or half to each player without one).
    pub judge_tokens: u64,
    /// Tokens this invocation spent in this mode (every model).
    pub run_tokens: u64,
    /// What the model's answers cost, over the run's invocations (`null`: no price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_cost: Option<f64>,
    /// What the whole evaluation cost (every model, answers and judging), over the run's
    /// invocations (`null`: no price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_cost: Option<f64>,
    /// The shinpan version that wrote the line.
    pub shinpan: String,
}

/// Reads a history file (none yet: empty); a bad line is an error naming the file and line.
pub fn read_history(path: &Path) -> Result<Vec<HistoryLine>, UsageError> {
    read_jsonl_if_exists::<HistoryLine>(path)
        .map(|v| v.into_iter().map(|(_, l)| l).collect())
        .map_err(|e| UsageError(format!("{}: {e}", path.display())))
}

/// Appends lines, durably, after cutting a torn last line.
pub fn append_history(path: &Path, lines: &[HistoryLine]) -> anyhow::Result<()> {
    let w = JsonlWriter::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    for l in lines {
        w.send(l)?;
    }
    w.finish()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

/// The lines that count: the last of each (run, series), in file order.
pub fn latest_per_run(lines: Vec<HistoryLine>) -> Vec<HistoryLine> {
    let mut last: BTreeMap<(&str, &SeriesKey), usize> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        last.insert((&l.run, &l.key), i);
    }
    let keep: std::collections::BTreeSet<usize> = last.into_values().collect();
    lines
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, l)| l)
        .collect()
}
