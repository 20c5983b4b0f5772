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
pub mod defaults;
mod settings;

pub use builder::RunOptionsBuilder;
pub use settings::{ENDPOINT_FLAGS, EndpointSettings, ModelSettings, Settings};

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::aggregate::{BootstrapOptions, StatsOptions};
use crate::client::{CacheMode, EndpointConfig, RetryPolicy};
pub use crate::error::UsageError;
use crate::error::usage;
use crate::types::Mode;

/// One model, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Display name.
    pub name: String,
    /// Name sent to the API.
    pub api_model: String,
    /// The name of its endpoint table (`None`: the default `[endpoint]`).
    pub endpoint_name: Option<String>,
    /// Its endpoint.
    pub endpoint: EndpointConfig,
    /// Fixed temperature, if any.
    pub temperature: Option<f32>,
    /// Output cap per turn.
    pub max_tokens: u32,
    /// System prompt, if any.
    pub system_prompt: Option<String>,
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
    /// The judge.
    pub judge: ModelOptions,
    /// Baseline (pairwise-baseline).
    pub baseline: Option<String>,
    /// Question file.
    pub questions: PathBuf,
    /// Reference answers file.
    pub references: Option<PathBuf>,
    /// Output directory.
    pub out: PathBuf,
    /// Prompt override directory.
    pub prompts: Option<PathBuf>,
    /// Judge output cap.
    pub judge_max_tokens: u32,
    /// Re-asks for unreadable verdicts.
    pub reasks: u32,
    /// How the report aggregates (bootstrap rounds and seed).
    pub stats: StatsOptions,
    /// Judgments per item (`--judge-samples`).
    pub judge_samples: u32,
    /// Rubric aspects with their weights (rubric mode).
    pub aspects: Vec<(String, f64)>,
    /// The response cache file (`None`: no cache).
    pub cache: Option<PathBuf>,
    /// How the cache is used.
    pub cache_mode: CacheMode,
    /// Failed items tolerated before the run exits 1.
    pub allow_failures: AllowFailures,
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

fn resolve_aspects(
    names: Option<Vec<String>>,
    weights: &BTreeMap<String, f64>,
    source: &str,
) -> Result<Vec<(String, f64)>, UsageError> {
    let names: Vec<String> = names
        .unwrap_or_else(|| defaults::ASPECTS.iter().map(|s| s.to_string()).collect())
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return usage(format!(
            "{source}: the rubric needs at least one aspect (--aspects)"
        ));
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return usage(format!(
                "{source}: aspect {n:?} is listed twice (--aspects)"
            ));
        }
    }
    for (k, w) in weights {
        if !names.contains(k) {
            return usage(format!(
                "{source}: weight for {k:?}, which is not an aspect ({}) (--aspect-weights)",
                names.join(", ")
            ));
        }
        if !(w.is_finite() && *w >= 0.0) {
            return usage(format!(
                "{source}: weight of {k:?} must be a number >= 0 (--aspect-weights)"
            ));
        }
    }
    let out: Vec<(String, f64)> = names
        .into_iter()
        .map(|n| {
            let w = weights.get(&n).copied().unwrap_or(1.0);
            (n, w)
        })
        .collect();
    if out.iter().all(|(_, w)| *w == 0.0) {
        return usage(format!(
            "{source}: every aspect weight is 0 (--aspect-weights)"
        ));
    }
    Ok(out)
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

/// An endpoint's settings, validated (`source` names the table for messages).
fn endpoint(s: &EndpointSettings, source: &str) -> Result<EndpointConfig, UsageError> {
    let base_url = s.base_url.as_deref().unwrap_or(defaults::BASE_URL);
    let base_url = base_url.trim().trim_end_matches('/').to_string();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return usage(format!(
            "{source}: base URL {base_url:?} must start with http:// or https:// (--base-url)"
        ));
    }
    if base_url.ends_with("/chat/completions") {
        return usage(format!(
            "{source}: base URL {base_url:?} should end in /v1, not /chat/completions: shinpan adds /chat/completions itself (--base-url)"
        ));
    }
    let api_key_env = match &s.api_key_env {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v.clone()),
        None => Some(defaults::API_KEY_ENV.to_string()),
    };
    let nonzero = |v: Option<u32>, what: &str| match v {
        Some(0) => usage(format!("{source}: {what} must be at least 1")),
        v => Ok(v.and_then(NonZeroU32::new)),
    };
    let concurrency = nonzero(s.concurrency, "concurrency (--concurrency)")?
        .map_or(defaults::CONCURRENCY, NonZeroU32::get);
    let max_attempts = nonzero(s.max_attempts, "max_attempts (--max-attempts)")?
        .map_or(defaults::MAX_ATTEMPTS, NonZeroU32::get);
    let timeout = match s.timeout_secs {
        Some(0) => {
            return usage(format!(
                "{source}: timeout must be at least 1 second (--timeout)"
            ));
        }
        t => Duration::from_secs(t.unwrap_or(defaults::TIMEOUT_SECS)),
    };
    Ok(EndpointConfig {
        base_url,
        api_key_env,
        rpm: nonzero(s.rpm, "rpm (--rpm)")?,
        tpm: nonzero(s.tpm, "tpm (--tpm)")?,
        concurrency: concurrency as usize,
        timeout,
        retry: RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        },
        structured_verdicts: s.structured_verdicts.unwrap_or(false),
    })
}

/// The layers of one run, lowest first: fallbacks, the config file (with its name for
/// messages), the environment, the flags.
pub struct Layers {
    /// Where the file layer came from (`None`: no config file).
    pub file: Option<(PathBuf, Settings)>,
    /// The flags.
    pub flags: Settings,
}

impl Layers {
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
        resolve(s, &file, &self.flags, &cfg_name)
    }
}

/// Validates merged settings. `file` and `flags` are the layers as given, for messages that
/// say which endpoint a flag changed.
fn resolve(
    s: Settings,
    file: &Settings,
    flags: &Settings,
    cfg_name: &str,
) -> Result<RunOptions, UsageError> {
    let mode = match &s.mode {
        Some(m) => parse_mode(m, "--mode")?,
        None => Mode::Single,
    };
    let names: Vec<String> = s
        .models
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return usage("no candidate models: give --models A,B,… or `models = [...]` in the config");
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return usage(format!("--models: {n:?} is listed twice"));
        }
    }
    let Some(judge_name) = s.judge.clone() else {
        return usage("no judge model: give --judge MODEL or `judge = \"...\"` in the config");
    };
    let baseline = s.baseline.clone();
    match mode {
        Mode::Single | Mode::Rubric => {}
        Mode::PairwiseBaseline => match &baseline {
            None => return usage("--mode pairwise-baseline needs --baseline MODEL"),
            Some(b) if !names.contains(b) => {
                return usage(format!(
                    "--baseline {b:?} is not among --models ({})",
                    names.join(", ")
                ));
            }
            Some(_) if names.len() < 2 => {
                return usage(
                    "pairwise-baseline needs the baseline and at least one other model in --models",
                );
            }
            _ => {}
        },
        Mode::PairwiseAll if names.len() < 2 => {
            return usage("--mode pairwise-all needs at least two models in --models");
        }
        Mode::PairwiseAll => {}
    }
    let Some(questions) = s.questions.clone() else {
        return usage(
            "no question file: give --questions FILE or `questions = \"...\"` in the config",
        );
    };
    let default_ep = endpoint(&s.endpoint, &format!("{cfg_name} [endpoint]"))?;
    let max_tokens = s.max_tokens.unwrap_or(defaults::MAX_TOKENS);
    if let Some(t) = s.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return usage(format!("--temperature {t} is outside 0-2"));
    }
    if s.judge_samples == Some(0) {
        return usage(format!(
            "{cfg_name}: judge_samples must be at least 1 (--judge-samples)"
        ));
    }
    // The judge takes only its own [model.NAME] settings: the candidates' temperature and
    // system prompt must not leak into judging.
    let resolve_model = |name: &str, is_judge: bool| -> Result<ModelOptions, UsageError> {
        let m = s.model.get(name).cloned().unwrap_or_default();
        let ep = match &m.endpoint {
            None => default_ep.clone(),
            Some(e) => {
                let Some(table) = s.endpoints.get(e) else {
                    return usage(format!(
                        "{cfg_name}: model {name:?} names endpoint {e:?}, but there is no [endpoints.{e}] table"
                    ));
                };
                let merged = s.endpoint.clone().merge(table);
                endpoint(&merged, &format!("{cfg_name} [endpoints.{e}]"))?
            }
        };
        Ok(ModelOptions {
            name: name.to_string(),
            api_model: m.api_model.unwrap_or_else(|| name.to_string()),
            endpoint_name: m.endpoint.clone(),
            endpoint: ep,
            temperature: if is_judge {
                m.temperature
            } else {
                m.temperature.or(s.temperature)
            },
            max_tokens: m.max_tokens.unwrap_or(max_tokens),
            system_prompt: if is_judge {
                None
            } else {
                m.system_prompt.or(s.system_prompt.clone())
            },
        })
    };
    let models = names
        .iter()
        .map(|n| resolve_model(n, false))
        .collect::<Result<Vec<_>, _>>()?;
    let judge = resolve_model(&judge_name, true)?;
    let notes = endpoint_notes(
        models.iter().chain([&judge]),
        &flags.endpoint,
        &file.endpoints,
    )?;
    let out = s
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(crate::util::safe_file_name(&judge_name)));
    let cache_mode = match (s.no_cache, s.refresh) {
        (true, true) => return usage("--no-cache and --refresh cannot be used together"),
        (true, false) => CacheMode::Off,
        (false, true) => CacheMode::Refresh,
        (false, false) => CacheMode::Use,
    };
    let allow_failures = AllowFailures::parse(
        s.allow_failures
            .as_deref()
            .unwrap_or(defaults::ALLOW_FAILURES),
    )?;
    Ok(RunOptions {
        mode,
        baseline: if mode == Mode::PairwiseBaseline {
            baseline
        } else {
            None
        },
        questions,
        references: s.references.clone(),
        out,
        prompts: s.prompts.clone(),
        judge_max_tokens: s.judge_max_tokens.unwrap_or(defaults::JUDGE_MAX_TOKENS),
        reasks: s.reasks.unwrap_or(defaults::REASKS),
        judge_samples: s.judge_samples.unwrap_or(defaults::JUDGE_SAMPLES),
        aspects: resolve_aspects(s.aspects.clone(), &s.aspect_weights, cfg_name)?,
        stats: StatsOptions {
            bootstrap: BootstrapOptions {
                rounds: s.bootstrap.unwrap_or(defaults::BOOTSTRAP),
                seed: s.seed.unwrap_or(defaults::SEED),
            },
            errors_as_ties: false,
            max_listed: s.max_listed.unwrap_or(defaults::MAX_LISTED),
            non_japanese_as_failure: s.non_japanese_as_failure.unwrap_or(false),
        },
        cache: match cache_mode {
            CacheMode::Off => None,
            _ => s.cache.clone().or_else(crate::client::default_cache_path),
        },
        cache_mode,
        allow_failures,
        notes,
        models,
        judge,
    })
}

/// Says which endpoints the endpoint flags changed: a flag changes the default endpoint and
/// every named endpoint that leaves the field out, so a named endpoint that sets it keeps its
/// own value (a note says so). A flag that changes no endpoint any model uses is an error.
fn endpoint_notes<'a>(
    models: impl Iterator<Item = &'a ModelOptions>,
    flags: &EndpointSettings,
    tables: &BTreeMap<String, EndpointSettings>,
) -> Result<Vec<String>, UsageError> {
    let mut used: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for m in models {
        used.entry(m.endpoint_name.as_deref())
            .or_default()
            .push(&m.name);
    }
    let mut notes = Vec::new();
    for flag in flags.set_flags() {
        let mut changed = Vec::new();
        let mut kept = Vec::new();
        for (ep, who) in &used {
            let shadowed = ep
                .and_then(|e| tables.get(e))
                .is_some_and(|t| t.set_flags().contains(&flag));
            let label = match ep {
                None => "[endpoint]".to_string(),
                Some(e) => format!("[endpoints.{e}]"),
            };
            if shadowed {
                kept.push(format!("{label} ({})", who.join(", ")));
            } else {
                changed.push(label);
            }
        }
        if changed.is_empty() {
            return usage(format!(
                "{flag} changes no endpoint in use: {} set(s) its own value; change it in the config file",
                kept.join(", ")
            ));
        }
        if !kept.is_empty() {
            notes.push(format!(
                "{flag} applies to {}; {} keep(s) the value set in the config file",
                changed.join(", "),
                kept.join(", ")
            ));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(judge: &str, q: &str) -> Settings {
        Settings {
            judge: Some(judge.into()),
            questions: Some(q.into()),
            ..Default::default()
        }
    }

    #[test]
    fn baseline_must_be_a_candidate() {
        let mut f = flags("j", "q.jsonl");
        f.models = Some(vec!["a".into(), "b".into()]);
        f.mode = Some("pairwise-baseline".into());
        f.baseline = Some("c".into());
        let err = Layers {
            file: None,
            flags: f,
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--baseline \"c\" is not among --models"),
            "{err}"
        );
    }

    #[test]
    fn config_tables_give_per_model_endpoints_and_flags_reach_endpoints_that_leave_a_field_out() {
        let cfg: Settings = toml::from_str(
            r#"
            models = ["local-7b", "gpt-4o-mini", "other"]
            judge = "gpt-4o"
            mode = "single"
            [endpoint]
            base_url = "https://api.openai.com/v1"
            rpm = 500
            [endpoints.local]
            base_url = "http://127.0.0.1:8080/v1"
            api_key_env = ""
            rpm = 120
            [endpoints.other]
            base_url = "http://127.0.0.1:8081/v1"
            [model.local-7b]
            endpoint = "local"
            api_model = "llm-jp/llm-jp-3-7b-instruct"
            [model.other]
            endpoint = "other"
            "#,
        )
        .unwrap();
        let mut f = flags("gpt-4o", "q.jsonl");
        f.endpoint.rpm = Some(60);
        let o = Layers {
            file: Some((PathBuf::from("x.toml"), cfg)),
            flags: f,
        }
        .resolve()
        .unwrap();
        assert_eq!(o.models[0].endpoint.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(o.models[0].endpoint.api_key_env, None);
        assert_eq!(o.models[0].api_model, "llm-jp/llm-jp-3-7b-instruct");
        assert_eq!(
            o.models[0].endpoint.rpm,
            NonZeroU32::new(120),
            "its own value"
        );
        assert_eq!(o.models[1].endpoint.rpm, NonZeroU32::new(60));
        assert_eq!(o.models[2].endpoint.rpm, NonZeroU32::new(60), "inherited");
        assert_eq!(o.judge.endpoint.base_url, "https://api.openai.com/v1");
        assert_eq!(
            o.notes,
            [
                "--rpm applies to [endpoint], [endpoints.other]; [endpoints.local] (local-7b) keep(s) the value set in the config file"
            ]
        );
    }

    #[test]
    fn a_flag_that_changes_no_endpoint_in_use_is_refused() {
        let cfg: Settings = toml::from_str(
            r#"
            models = ["a"]
            judge = "a"
            [endpoints.local]
            base_url = "http://127.0.0.1:8080/v1"
            rpm = 120
            [model.a]
            endpoint = "local"
            "#,
        )
        .unwrap();
        let mut f = flags("a", "q.jsonl");
        f.endpoint.rpm = Some(60);
        let err = Layers {
            file: Some((PathBuf::from("x.toml"), cfg)),
            flags: f,
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(err.contains("--rpm changes no endpoint in use"), "{err}");
    }

    #[test]
    fn allow_failures_takes_a_count_or_a_share() {
        assert_eq!(AllowFailures::parse("3").unwrap(), AllowFailures::Count(3));
        assert_eq!(
            AllowFailures::parse("5%").unwrap(),
            AllowFailures::Share(0.05)
        );
        assert!(AllowFailures::parse("x").is_err());
        assert!(AllowFailures::Share(0.05).allows(5, 100));
        assert!(!AllowFailures::Share(0.05).allows(6, 100));
        assert!(!AllowFailures::Count(0).allows(1, 100));
    }
}
