//! One layer of settings, every field optional: the config file is one, the environment
//! another, the flags a third. Layers are merged field by field (a later layer wins where it
//! says something) before anything is validated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::defaults;
use crate::error::UsageError;

/// Settings of one endpoint: the `[endpoint]` table, each `[endpoints.NAME]` table, and the
/// endpoint flags, which change the `[endpoint]` layer (named endpoints inherit every field
/// they leave out from it).
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    /// Base URL of the OpenAI-compatible API, including `/v1`.
    #[arg(long, value_name = "URL", help = defaults::help(
        "Base URL of the default endpoint, including /v1 (models on named endpoints keep theirs)",
        format!("$OPENAI_BASE_URL, else {}", defaults::BASE_URL)))]
    pub base_url: Option<String>,
    /// Environment variable holding the API key (empty: send no key).
    #[arg(long, value_name = "VAR", help = defaults::help(
        "Environment variable holding the API key (\"\": send none)", defaults::API_KEY_ENV))]
    pub api_key_env: Option<String>,
    /// Requests per minute, paced evenly.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        help = "Requests per minute, paced evenly [default: what the provider's x-ratelimit headers say, else unlimited]")]
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt estimate plus the output cap), paced evenly.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        help = "Tokens per minute (prompt estimate plus the output cap), paced evenly [default: what the provider's x-ratelimit headers say, else unlimited]")]
    pub tpm: Option<u32>,
    /// Requests in flight at once: `auto` (the default) adapts, a number fixes it.
    #[arg(long, value_name = "auto|N",
        help = format!("Requests in flight at once: auto adapts (under a rate limit, what its pace needs at the latency seen, at least {}; with none, what the server's throughput shows it can take), a number fixes it [default: auto]", defaults::CONCURRENCY))]
    pub concurrency: Option<Concurrency>,
    /// The most requests in flight `--concurrency auto` goes to.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        help = defaults::help("The most requests in flight --concurrency auto goes to, per endpoint", defaults::MAX_CONCURRENCY))]
    pub max_concurrency: Option<u32>,
    /// Seconds one attempt may take.
    #[arg(long = "timeout", value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..),
        help = defaults::help("Seconds one attempt may take", defaults::TIMEOUT_SECS))]
    pub timeout_secs: Option<u64>,
    /// Attempts per request, the first included.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
        help = defaults::help("Attempts per request, the first included", defaults::MAX_ATTEMPTS))]
    pub max_attempts: Option<u32>,
    /// Ask the judge for verdicts as JSON constrained by a schema (`response_format`), for
    /// servers that honour it (OpenAI, vLLM, llama.cpp); the verdict tag in the text is still
    /// read when the reply is not such JSON.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL",
        help = "Ask the judge for verdicts as JSON constrained by a schema (response_format json_schema), for servers that honour it: OpenAI, vLLM, llama.cpp [default: false]")]
    pub structured_verdicts: Option<bool>,
    /// Send requests through the endpoint's Batch API (OpenAI's `/v1/batches`): slower (up to
    /// the provider's 24 hours), cheaper (OpenAI: half price), resumable while pending.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL",
        help = "Send requests through the endpoint's Batch API (/v1/files, /v1/batches): slower (up to the provider's 24 h window), cheaper (OpenAI: half price); a stopped run finds its pending batches again [default: false]")]
    pub batch: Option<bool>,
    /// Seconds before a batch is first polled; each wait grows by half, to a minute.
    #[arg(long = "batch-poll", value_name = "SECS", help = defaults::help(
        "Seconds before a batch is first polled; each wait grows by half, to a minute at most",
        defaults::BATCH_POLL_SECS))]
    pub batch_poll_secs: Option<f64>,
}

/// Field names of the endpoint settings, as flags, in the order they are listed.
pub const ENDPOINT_FLAGS: &[&str] = &[
    "--base-url",
    "--api-key-env",
    "--rpm",
    "--tpm",
    "--concurrency",
    "--max-concurrency",
    "--timeout",
    "--max-attempts",
    "--structured-verdicts",
    "--batch",
    "--batch-poll",
];

impl EndpointSettings {
    /// This layer with `over` on top.
    pub fn merge(mut self, over: &EndpointSettings) -> Self {
        let o = over.clone();
        self.base_url = o.base_url.or(self.base_url);
        self.api_key_env = o.api_key_env.or(self.api_key_env);
        self.rpm = o.rpm.or(self.rpm);
        self.tpm = o.tpm.or(self.tpm);
        self.concurrency = o.concurrency.or(self.concurrency);
        self.max_concurrency = o.max_concurrency.or(self.max_concurrency);
        self.timeout_secs = o.timeout_secs.or(self.timeout_secs);
        self.max_attempts = o.max_attempts.or(self.max_attempts);
        self.structured_verdicts = o.structured_verdicts.or(self.structured_verdicts);
        self.batch = o.batch.or(self.batch);
        self.batch_poll_secs = o.batch_poll_secs.or(self.batch_poll_secs);
        self
    }

    /// Which fields this layer sets, by their flag names.
    pub fn set_flags(&self) -> Vec<&'static str> {
        let set = [
            self.base_url.is_some(),
            self.api_key_env.is_some(),
            self.rpm.is_some(),
            self.tpm.is_some(),
            self.concurrency.is_some(),
            self.max_concurrency.is_some(),
            self.timeout_secs.is_some(),
            self.max_attempts.is_some(),
            self.structured_verdicts.is_some(),
            self.batch.is_some(),
            self.batch_poll_secs.is_some(),
        ];
        ENDPOINT_FLAGS
            .iter()
            .zip(set)
            .filter(|(_, s)| *s)
            .map(|(f, _)| *f)
            .collect()
    }
}

/// `concurrency`: `"auto"` (`--concurrency auto`) or a number of requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Adapt to the limits and the server.
    Auto,
    /// Exactly this many (at least 1; 0 is refused where it is validated).
    Fixed(u32),
}

impl std::str::FromStr for Concurrency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Concurrency::Auto);
        }
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Concurrency::Fixed(n)),
            _ => Err(format!(
                "{s:?} is neither auto nor a number of requests (1 or more)"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => u32::try_from(n)
                .map(Concurrency::Fixed)
                .map_err(|_| serde::de::Error::custom(format!("concurrency {n} is out of range"))),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// `endpoint = "NAME"` or `endpoint = ["A", "B"]` in a `[model.NAME]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum EndpointNames {
    /// One endpoint table.
    One(String),
    /// Several endpoint tables sharing the model's load.
    Many(Vec<String>),
}

impl EndpointNames {
    /// The names, in order.
    pub fn names(&self) -> Vec<String> {
        match self {
            EndpointNames::One(n) => vec![n.clone()],
            EndpointNames::Many(v) => v.clone(),
        }
    }
}

/// A `[model.NAME]` table: settings of one model (candidate or judge).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// Name of an `[endpoints.NAME]` table (default: the `[endpoint]` table), or a list of
    /// them: replicas, keys or regions that share the model's load by their limits.
    pub endpoint: Option<EndpointNames>,
    /// Model name sent to the API (default: the table's name).
    pub api_model: Option<String>,
    /// Fixed temperature instead of the per-category table.
    pub temperature: Option<f32>,
    /// Output cap per turn.
    pub max_tokens: Option<u32>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Prices per million tokens: `{ input = 2.5, output = 10.0 }`.
    pub price: Option<crate::records::spend::Price>,
}

impl ModelSettings {
    fn merge(mut self, over: &ModelSettings) -> Self {
        let o = over.clone();
        self.endpoint = o.endpoint.or(self.endpoint);
        self.api_model = o.api_model.or(self.api_model);
        self.temperature = o.temperature.or(self.temperature);
        self.max_tokens = o.max_tokens.or(self.max_tokens);
        self.system_prompt = o.system_prompt.or(self.system_prompt);
        self.price = o.price.or(self.price);
        self
    }
}

/// The `[nightly]` table of a recurring run.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NightlySettings {
    /// The models the regression gate watches [default: every model].
    pub watch: Option<Vec<String>>,
    /// The regression threshold, as `--fail-on-regression` takes it (`0.3`, or
    /// `score=0.3,win_rate=0.05`); the flag replaces it.
    pub fail_on_regression: Option<String>,
    /// The history file [default: OUT/history.jsonl].
    pub history: Option<PathBuf>,
}

/// One layer of run settings; as a file, the TOML config (relative paths in it are relative
/// to the file's directory).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Candidate models.
    pub models: Option<Vec<String>>,
    /// The judge model.
    pub judge: Option<String>,
    /// A panel of judges, each grading every item (`judge` is a panel of one).
    pub judges: Option<Vec<String>>,
    /// How a panel's judges are pooled: `mean`, `median` or `majority`.
    pub pool: Option<String>,
    /// `single`, `rubric`, `pairwise-baseline`, `pairwise-all`, `pairwise-n` or
    /// `pairwise-adaptive`.
    pub mode: Option<String>,
    /// Games to play (`pairwise-n`), or at most (`pairwise-adaptive`).
    pub games: Option<u64>,
    /// How probable each neighbour's order must be for `pairwise-adaptive` to stop (0.5-1).
    pub confidence: Option<f64>,
    /// Several modes, run one after the other into the same directory (the answers are
    /// shared); `mode` and `modes` are exclusive, and `--mode` replaces both.
    pub modes: Option<Vec<String>>,
    /// Baseline model (pairwise-baseline).
    pub baseline: Option<String>,
    /// Question file.
    pub questions: Option<PathBuf>,
    /// An official set fetched with `shinpan data fetch` (`NAME` or `NAME@VARIANT`): its
    /// questions, and its references unless `references` is given.
    pub bench: Option<String>,
    /// Where `shinpan data fetch` put the sets.
    pub data_dir: Option<PathBuf>,
    /// llm-jp-eval task files, or directories of them, scored by rule instead of judged.
    pub tasks: Option<Vec<PathBuf>>,
    /// Few-shots per task prompt (tasks; llm-jp-eval's default 4).
    pub few_shots: Option<u32>,
    /// Samples per task (tasks; llm-jp-eval's default 100; -1: all).
    pub max_samples: Option<i64>,
    /// Judge prompts: `shinpan` (the built-in ones), a fetched set's name (its
    /// `judge_prompts.jsonl` as published), or such a file; with `bench`, that set's.
    pub prompt_set: Option<String>,
    /// Show the judge a reasoning model's thinking (`<think>…</think>`, `reasoning_content`)
    /// with its answer; by default only the final answer is judged.
    pub keep_reasoning: Option<bool>,
    /// Reference answers file.
    pub references: Option<PathBuf>,
    /// Output directory.
    pub out: Option<PathBuf>,
    /// Prompt override directory.
    pub prompts: Option<PathBuf>,
    /// Response cache file.
    pub cache: Option<PathBuf>,
    /// Candidate output cap per turn.
    pub max_tokens: Option<u32>,
    /// Judge output cap.
    pub judge_max_tokens: Option<u32>,
    /// The largest reply body read from an endpoint, in bytes.
    pub max_reply_bytes: Option<usize>,
    /// The largest question turn sent, in bytes.
    pub max_turn_bytes: Option<usize>,
    /// Candidate temperature for all categories.
    pub temperature: Option<f32>,
    /// Candidate system prompt.
    pub system_prompt: Option<String>,
    /// Re-asks for unreadable verdicts.
    pub reasks: Option<u32>,
    /// Judgments per item.
    pub judge_samples: Option<u32>,
    /// Rubric aspects (rubric mode).
    pub aspects: Option<Vec<String>>,
    /// Weights of rubric aspects in the overall score (default 1 each).
    #[serde(default)]
    pub aspect_weights: BTreeMap<String, f64>,
    /// The scale every rubric aspect is graded on (`"1-5"`; default 1-10).
    pub rubric_scale: Option<String>,
    /// Bootstrap rounds for intervals.
    pub bootstrap: Option<usize>,
    /// Seed of the bootstrap.
    pub seed: Option<u64>,
    /// Most inconsistent games listed.
    pub max_listed: Option<usize>,
    /// Score answers to Japanese questions that are not in Japanese as failures.
    pub non_japanese_as_failure: Option<bool>,
    /// Items allowed to fail before `run` exits 1: a count (`3`) or a share (`5%`).
    pub allow_failures: Option<String>,
    /// The default endpoint.
    #[serde(default)]
    pub endpoint: EndpointSettings,
    /// Named endpoints.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointSettings>,
    /// Per-model settings (`[model.NAME]` tables).
    #[serde(default)]
    pub model: BTreeMap<String, ModelSettings>,
    /// A recurring run (`[nightly]`): each run goes to `OUT/<date or --name>/` and adds its
    /// figures to a history, compared with the previous comparable run.
    pub nightly: Option<NightlySettings>,
    /// Neither read nor write the response cache (a flag only).
    #[serde(skip)]
    pub no_cache: bool,
    /// Ask again for every request and replace the cached responses (a flag only).
    #[serde(skip)]
    pub refresh: bool,
    /// Read the response cache, never write it (a flag only).
    #[serde(skip)]
    pub cache_read_only: bool,
    /// This run's slice of the questions, `I/N` or `N` (a flag only).
    #[serde(skip)]
    pub shard: Option<String>,
}

impl Settings {
    /// Reads and parses a config file; paths inside become relative to its directory.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "{}: cannot read the config file: {e}",
                path.display()
            ))
        })?;
        let mut cfg: Settings = toml::from_str(&text).map_err(|e| {
            if e.message().contains("unknown field `api_key`") {
                // The line holds the key: it is not quoted back.
                let line = e
                    .span()
                    .map(|s| text[..s.start].matches('\n').count() + 1)
                    .map_or(String::new(), |l| format!(" (line {l})"));
                return UsageError(format!(
                    "{}{line}: `api_key` is not a setting: keys are read from the environment, never from the config file; set `api_key_env = \"VAR\"` to the name of the variable that holds it",
                    path.display()
                ));
            }
            UsageError(crate::util::redact_secrets(&format!("{}: {e}", path.display())).into_owned())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if cfg.mode.is_some() && cfg.modes.is_some() {
            return Err(UsageError(format!(
                "{}: give `mode` or `modes`, not both",
                path.display()
            )));
        }
        for t in cfg.tasks.iter_mut().flatten() {
            if t.is_relative() {
                *t = base.join(&*t);
            }
        }
        let history = cfg.nightly.as_mut().and_then(|n| n.history.as_mut());
        for p in [
            &mut cfg.questions,
            &mut cfg.references,
            &mut cfg.out,
            &mut cfg.prompts,
            &mut cfg.cache,
            &mut cfg.data_dir,
        ]
        .into_iter()
        .flatten()
        .chain(history)
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    /// The environment layer: `SHINPAN_CACHE` names the response cache file.
    pub fn from_env() -> Self {
        Settings {
            cache: std::env::var_os("SHINPAN_CACHE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            ..Settings::default()
        }
    }

    /// The layer below the config file: `OPENAI_BASE_URL`, shared with other OpenAI tools,
    /// is only a fallback for the default endpoint's base URL.
    pub fn fallbacks() -> Self {
        Settings {
            endpoint: EndpointSettings {
                base_url: std::env::var("OPENAI_BASE_URL")
                    .ok()
                    .filter(|s| !s.trim().is_empty()),
                ..EndpointSettings::default()
            },
            ..Settings::default()
        }
    }

    /// This layer with `over` on top: every field `over` sets wins; tables merge by name.
    pub fn merge(mut self, over: &Settings) -> Self {
        let o = over.clone();
        self.models = o.models.or(self.models);
        // A layer that names its judge (or panel) replaces the judges below it.
        if o.judge.is_some() || o.judges.is_some() {
            self.judge = o.judge;
            self.judges = o.judges;
        }
        self.pool = o.pool.or(self.pool);
        self.mode = o.mode.or(self.mode);
        self.modes = o.modes.or(self.modes);
        self.nightly = o.nightly.or(self.nightly);
        self.baseline = o.baseline.or(self.baseline);
        self.questions = o.questions.or(self.questions);
        self.bench = o.bench.or(self.bench);
        self.data_dir = o.data_dir.or(self.data_dir);
        self.tasks = o.tasks.or(self.tasks);
        self.few_shots = o.few_shots.or(self.few_shots);
        self.max_samples = o.max_samples.or(self.max_samples);
        self.prompt_set = o.prompt_set.or(self.prompt_set);
        self.keep_reasoning = o.keep_reasoning.or(self.keep_reasoning);
        self.references = o.references.or(self.references);
        self.out = o.out.or(self.out);
        self.prompts = o.prompts.or(self.prompts);
        self.cache = o.cache.or(self.cache);
        self.max_tokens = o.max_tokens.or(self.max_tokens);
        self.judge_max_tokens = o.judge_max_tokens.or(self.judge_max_tokens);
        self.max_reply_bytes = o.max_reply_bytes.or(self.max_reply_bytes);
        self.max_turn_bytes = o.max_turn_bytes.or(self.max_turn_bytes);
        self.temperature = o.temperature.or(self.temperature);
        self.system_prompt = o.system_prompt.or(self.system_prompt);
        self.reasks = o.reasks.or(self.reasks);
        self.judge_samples = o.judge_samples.or(self.judge_samples);
        self.aspects = o.aspects.or(self.aspects);
        self.rubric_scale = o.rubric_scale.or(self.rubric_scale);
        if !o.aspect_weights.is_empty() {
            self.aspect_weights = o.aspect_weights;
        }
        self.bootstrap = o.bootstrap.or(self.bootstrap);
        self.seed = o.seed.or(self.seed);
        self.games = o.games.or(self.games);
        self.confidence = o.confidence.or(self.confidence);
        self.max_listed = o.max_listed.or(self.max_listed);
        self.non_japanese_as_failure = o.non_japanese_as_failure.or(self.non_japanese_as_failure);
        self.allow_failures = o.allow_failures.or(self.allow_failures);
        self.endpoint = self.endpoint.merge(&o.endpoint);
        for (name, e) in o.endpoints {
            let base = self.endpoints.remove(&name).unwrap_or_default();
            self.endpoints.insert(name, base.merge(&e));
        }
        for (name, m) in o.model {
            let base = self.model.remove(&name).unwrap_or_default();
            self.model.insert(name, base.merge(&m));
        }
        self.no_cache |= o.no_cache;
        self.refresh |= o.refresh;
        self.cache_read_only |= o.cache_read_only;
        self.shard = o.shard.or(self.shard);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_layer_wins_field_by_field_and_tables_merge_by_name() {
        let file: Settings = toml::from_str(
            r#"
            judge = "gpt-4o"
            max_tokens = 512
            [endpoint]
            rpm = 500
            tpm = 9000
            [endpoints.local]
            base_url = "http://127.0.0.1:8000/v1"
            "#,
        )
        .unwrap();
        let flags = Settings {
            max_tokens: Some(64),
            endpoint: EndpointSettings {
                rpm: Some(60),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = file.merge(&flags);
        assert_eq!(s.judge.as_deref(), Some("gpt-4o"));
        assert_eq!(s.max_tokens, Some(64));
        assert_eq!((s.endpoint.rpm, s.endpoint.tpm), (Some(60), Some(9000)));
        assert_eq!(
            s.endpoints["local"].base_url.as_deref(),
            Some("http://127.0.0.1:8000/v1")
        );
        assert_eq!(flags.endpoint.set_flags(), ["--rpm"]);
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let err = toml::from_str::<Settings>("modles = [\"a\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("modles"), "{err}");
    }
}
