//! Run options, resolved once from layers of settings and validated before anything is sent
//! or written:
//!
//! built-in defaults < `OPENAI_BASE_URL` < the config file < `SHINPAN_*` environment < flags
//!
//! `OPENAI_BASE_URL` is shared with other OpenAI tools, so it is only a fallback for the
//! default endpoint, below the config file. Endpoint flags (`--rpm`, `--base-url`, …) change
//! the `[endpoint]` layer; each `[endpoints.NAME]` table inherits every field it leaves out
//! from it, so a flag reaches a named endpoint unless that table sets the field itself (the
//! run then says so). Library callers (the demo, tests, benches) build options with
//! [`RunOptions::builder`] instead of fake command lines.

mod builder;
mod endpoints;
mod resolve;
mod settings;

pub use builder::RunOptionsBuilder;
pub use settings::{
    ENDPOINT_FLAGS, EndpointNames, EndpointSettings, ModelSettings, NightlySettings, Settings,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::aggregate::StatsOptions;
use crate::client::{CacheMode, EndpointConfig};
pub use crate::error::UsageError;
use crate::types::Mode;

/// One model, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Display name.
    pub name: String,
    /// Name sent to the API.
    pub api_model: String,
    /// The names of its endpoint tables (none: the default `[endpoint]`).
    pub endpoint_names: Vec<String>,
    /// Its endpoints (at least one); several share its load.
    pub endpoints: Vec<EndpointConfig>,
    /// Fixed temperature, if any.
    pub temperature: Option<f32>,
    /// Output cap per turn.
    pub max_tokens: u32,
    /// System prompt, if any.
    pub system_prompt: Option<String>,
    /// Its prices, if the config gives them.
    pub price: Option<crate::records::spend::Price>,
}

/// How many failed items a run tolerates before it exits 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AllowFailures {
    /// At most this many items.
    Count(usize),
    /// At most this share of the run's items (0-1).
    Share(f64),
}

impl AllowFailures {
    /// Parses `3` (items) or `5%` (a share of all items).
    pub fn parse(s: &str) -> Result<Self, UsageError> {
        let s = s.trim();
        let bad = || {
            UsageError(format!(
                "--allow-failures {s:?}: expected a number of items (3) or a share (5%)"
            ))
        };
        match s.strip_suffix('%') {
            Some(p) => {
                let p: f64 = p.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(bad());
                }
                Ok(AllowFailures::Share(p / 100.0))
            }
            None => s.parse().map(AllowFailures::Count).map_err(|_| bad()),
        }
    }

    /// Whether `failed` of `total` items is within the tolerance.
    pub fn allows(self, failed: usize, total: usize) -> bool {
        match self {
            AllowFailures::Count(n) => failed <= n,
            AllowFailures::Share(p) => failed as f64 <= p * total as f64 + 1e-9,
        }
    }
}

impl std::fmt::Display for AllowFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AllowFailures::Count(n) => write!(f, "{n}"),
            AllowFailures::Share(p) => write!(f, "{}%", p * 100.0),
        }
    }
}

/// Validated options for a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Evaluation mode.
    pub mode: Mode,
    /// Candidate models, in the order given.
    pub models: Vec<ModelOptions>,
    /// The judges: one, or a panel (`--judges`), each grading every item.
    pub judges: Vec<ModelOptions>,
    /// How a panel is pooled (`None`: one judge).
    pub pool: Option<crate::types::Pool>,
    /// llm-jp-eval tasks scored by rule instead of judged (`--tasks`; then `judges` is empty).
    pub tasks: Option<crate::tasks::TaskOptions>,
    /// Baseline (pairwise-baseline).
    pub baseline: Option<String>,
    /// Question file.
    pub questions: PathBuf,
    /// Reference answers file.
    pub references: Option<PathBuf>,
    /// The official set the questions come from (`--bench`), as `NAME@VARIANT VERSION`.
    pub bench: Option<String>,
    /// Show the judge a reasoning model's thinking with its answer (`--keep-reasoning`).
    pub keep_reasoning: bool,
    /// An upstream judge prompt set: its name and its `judge_prompts.jsonl` (`None`: the
    /// built-in prompts).
    pub prompt_set: Option<(String, PathBuf)>,
    /// Output directory.
    pub out: PathBuf,
    /// Prompt override directory.
    pub prompts: Option<PathBuf>,
    /// Judge output cap.
    pub judge_max_tokens: u32,
    /// The largest question turn sent, in bytes (`--max-turn-bytes`).
    pub max_turn_bytes: usize,
    /// Re-asks for unreadable verdicts.
    pub reasks: u32,
    /// How the report aggregates (bootstrap rounds and seed).
    pub stats: StatsOptions,
    /// Judgments per item (`--judge-samples`).
    pub judge_samples: u32,
    /// Rubric aspects with their weights (rubric mode).
    pub aspects: Vec<(String, f64)>,
    /// The scale every rubric aspect is graded on (`--rubric-scale`).
    pub rubric_scale: crate::types::Scale,
    /// The response cache file (`None`: no cache).
    pub cache: Option<PathBuf>,
    /// How the cache is used.
    pub cache_mode: CacheMode,
    /// Failed items tolerated before the run exits 1.
    pub allow_failures: AllowFailures,
    /// The slice of the questions this run takes (`--shard`); `None`: all of them.
    pub shard: Option<crate::types::Shard>,
    /// Which games a pairwise run among all models plays (`pairwise-n`,
    /// `pairwise-adaptive`); `None`: every game of the mode.
    pub plan: Option<crate::records::GamePlan>,
    /// Notes for the user about how the settings were applied (a flag that a named endpoint
    /// overrides), printed when the run starts.
    pub notes: Vec<String>,
}

impl RunOptions {
    /// A builder for library callers.
    pub fn builder() -> RunOptionsBuilder {
        RunOptionsBuilder::default()
    }
}

/// The cache file a command uses: the flag, else `$SHINPAN_CACHE`, else the config file's
/// `cache`, else the per-user default.
pub fn cache_path(flag: Option<&Path>, config: Option<&Path>) -> Option<PathBuf> {
    let env = Settings::from_env().cache;
    flag.map(Path::to_path_buf)
        .or(env)
        .or_else(|| config.map(Path::to_path_buf))
        .or_else(crate::client::default_cache_path)
}

/// Parses `name=weight,…`.
pub fn parse_weights(items: &[String]) -> Result<BTreeMap<String, f64>, UsageError> {
    items
        .iter()
        .map(|s| {
            let (k, v) = s.rsplit_once('=').ok_or_else(|| {
                UsageError(format!("--aspect-weights {s:?}: expected ASPECT=WEIGHT"))
            })?;
            let w: f64 = v.trim().parse().map_err(|_| {
                UsageError(format!("--aspect-weights {s:?}: {v:?} is not a number"))
            })?;
            Ok((k.trim().to_string(), w))
        })
        .collect()
}

/// Parses a mode name.
pub fn parse_mode(s: &str, source: &str) -> Result<Mode, UsageError> {
    Mode::parse(s).ok_or_else(|| {
        UsageError(format!(
            "{source}: unknown mode {s:?}; expected single, rubric, pairwise-baseline or pairwise-all"
        ))
    })
}

/// Run modes that play a sample of pairwise-all's games (see [`crate::records::plan`]).
pub const SAMPLED_MODES: [&str; 2] = ["pairwise-n", "pairwise-adaptive"];

/// The layers of one run, lowest first: fallbacks, the config file (with its name for
/// messages), the environment, the flags.
#[derive(Debug, Clone)]
pub struct Layers {
    /// Where the file layer came from (`None`: no config file).
    pub file: Option<(PathBuf, Settings)>,
    /// The flags.
    pub flags: Settings,
}

impl Layers {
    /// The directory under `results/` that a run of these settings' question set goes to by
    /// default (see [`resolve::default_out`]).
    pub fn set_dir(&self) -> PathBuf {
        let file = self
            .file
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let s = file.merge(&self.flags);
        let questions = s.questions.clone().unwrap_or_default();
        resolve::default_out(&s, &questions)
    }

    /// Merges the layers and validates the result.
    pub fn resolve(self) -> Result<RunOptions, UsageError> {
        let (cfg_name, file) = match self.file {
            Some((p, c)) => (p.display().to_string(), c),
            None => ("flags".to_string(), Settings::default()),
        };
        let s = Settings::fallbacks()
            .merge(&file)
            .merge(&Settings::from_env())
            .merge(&self.flags);
        resolve::resolve(s, &file, &self.flags, &cfg_name)
    }
}

/// A flags layer with a judge and a question file, for the tests of this module.
#[cfg(test)]
fn test_flags(judge: &str, q: &str) -> Settings {
    Settings {
        judge: Some(judge.into()),
        questions: Some(q.into()),
        ..Default::default()
    }
}
