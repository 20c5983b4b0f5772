//! Run options: a TOML config file and the command-line flags, merged (flags win) and
//! validated into typed options before anything is sent or written.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::aggregate::{Mode, StatsOptions};
use crate::cli::{CommonArgs, EndpointArgs};
use crate::client::{CacheMode, EndpointConfig, RetryPolicy};

/// A problem with the user's input: the message names the flag, file or line to fix. The
/// binary exits with code 2 on it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// The `[endpoint]` table and each `[endpoints.NAME]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointFile {
    /// Base URL including `/v1`.
    pub base_url: Option<String>,
    /// Environment variable holding the API key (empty string: send no key).
    pub api_key_env: Option<String>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u32>,
    /// Requests in flight at once.
    pub concurrency: Option<u32>,
    /// Seconds one attempt may take.
    pub timeout_secs: Option<u64>,
    /// Attempts per request, the first included.
    pub max_attempts: Option<u32>,
}

/// A `[models.NAME]` table: settings of one model (candidate or judge).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Name of an `[endpoints.NAME]` table (default: the `[endpoint]` table).
    pub endpoint: Option<String>,
    /// Model name sent to the API (default: the table's name).
    pub api_model: Option<String>,
    /// Fixed temperature instead of the per-category table.
    pub temperature: Option<f32>,
    /// Output cap per turn.
    pub max_tokens: Option<u32>,
    /// System prompt.
    pub system_prompt: Option<String>,
}

/// The whole config file. Relative paths in it are relative to the file's directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Candidate models.
    pub models: Option<Vec<String>>,
    /// The judge model.
    pub judge: Option<String>,
    /// `single`, `pairwise-baseline` or `pairwise-all`.
    pub mode: Option<String>,
    /// Baseline for pairwise-baseline.
    pub baseline: Option<String>,
    /// Question file.
    pub questions: Option<PathBuf>,
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
    /// The default endpoint.
    #[serde(default)]
    pub endpoint: EndpointFile,
    /// Named endpoints.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointFile>,
    /// Per-model settings (`[model.NAME]` tables).
    #[serde(default)]
    pub model: BTreeMap<String, ModelFile>,
}

impl FileConfig {
    /// Reads and parses a config file; paths inside become relative to its directory.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "{}: cannot read the config file: {e}",
                path.display()
            ))
        })?;
        let mut cfg: FileConfig =
            toml::from_str(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut cfg.questions,
            &mut cfg.references,
            &mut cfg.out,
            &mut cfg.prompts,
            &mut cfg.cache,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }
}

/// One model, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    /// Display name.
    pub name: String,
    /// Name sent to the API.
    pub api_model: String,
    /// Its endpoint.
    pub endpoint: EndpointConfig,
    /// Fixed temperature, if any.
    pub temperature: Option<f32>,
    /// Output cap per turn.
    pub max_tokens: u32,
    /// System prompt, if any.
    pub system_prompt: Option<String>,
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
}

/// The cache file a command uses: the flag, else `$SHINPAN_CACHE`, else the config file's
/// `cache`, else the per-user default.
pub fn cache_path(flag: Option<&Path>, config: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os("SHINPAN_CACHE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| config.map(Path::to_path_buf))
        .or_else(crate::client::default_cache_path)
}

/// The default rubric: the aspects of FastChat's grading prompt plus naturalness of the
/// Japanese, equally weighted.
pub const DEFAULT_ASPECTS: &[&str] = &[
    "有用性",
    "関連性",
    "正確性",
    "深さ",
    "創造性",
    "詳細さ",
    "日本語の自然さ",
];

fn resolve_aspects(
    names: Option<Vec<String>>,
    weights: &BTreeMap<String, f64>,
    source: &str,
) -> Result<Vec<(String, f64)>, UsageError> {
    let names: Vec<String> = names
        .unwrap_or_else(|| DEFAULT_ASPECTS.iter().map(|s| s.to_string()).collect())
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
    match s {
        "single" => Ok(Mode::Single),
        "rubric" => Ok(Mode::Rubric),
        "pairwise-baseline" | "pairwise" => Ok(Mode::PairwiseBaseline),
        "pairwise-all" => Ok(Mode::PairwiseAll),
        other => usage(format!(
            "{source}: unknown mode {other:?}; expected single, rubric, pairwise-baseline or pairwise-all"
        )),
    }
}

fn nonzero(v: Option<u32>, what: &str) -> Result<Option<NonZeroU32>, UsageError> {
    match v {
        None => Ok(None),
        Some(0) => usage(format!("{what} must be at least 1")),
        Some(n) => Ok(NonZeroU32::new(n)),
    }
}

fn endpoint(
    file: &EndpointFile,
    flags: Option<&EndpointArgs>,
    source: &str,
) -> Result<EndpointConfig, UsageError> {
    let d = EndpointConfig::default();
    let f = flags.cloned().unwrap_or_default();
    let base_url = f
        .base_url
        .or_else(|| file.base_url.clone())
        .or_else(|| {
            std::env::var("OPENAI_BASE_URL")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or(d.base_url);
    let base_url = base_url.trim().trim_end_matches('/').to_string();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return usage(format!(
            "{source}: base URL {base_url:?} must start with http:// or https:// (--base-url)"
        ));
    }
    let api_key_env = match f.api_key_env.or_else(|| file.api_key_env.clone()) {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(v),
        None => d.api_key_env,
    };
    let concurrency = f
        .concurrency
        .or(file.concurrency)
        .unwrap_or(d.concurrency as u32);
    if concurrency == 0 {
        return usage(format!(
            "{source}: concurrency must be at least 1 (--concurrency)"
        ));
    }
    let max_attempts = f
        .max_attempts
        .or(file.max_attempts)
        .unwrap_or(d.retry.max_attempts);
    if max_attempts == 0 {
        return usage(format!(
            "{source}: max_attempts must be at least 1 (--max-attempts)"
        ));
    }
    let timeout = f
        .timeout
        .or(file.timeout_secs)
        .map(Duration::from_secs)
        .unwrap_or(d.timeout);
    if timeout.is_zero() {
        return usage(format!(
            "{source}: timeout must be at least 1 second (--timeout)"
        ));
    }
    Ok(EndpointConfig {
        base_url,
        api_key_env,
        rpm: nonzero(f.rpm.or(file.rpm), &format!("{source}: rpm (--rpm)"))?,
        tpm: nonzero(f.tpm.or(file.tpm), &format!("{source}: tpm (--tpm)"))?,
        concurrency: concurrency as usize,
        timeout,
        retry: RetryPolicy {
            max_attempts,
            ..d.retry
        },
    })
}

/// Merges a config file (if any) with flags into validated options.
pub fn resolve(
    file: Option<(&Path, FileConfig)>,
    models: Option<Vec<String>>,
    mode: Option<String>,
    baseline: Option<String>,
    common: &CommonArgs,
) -> Result<RunOptions, UsageError> {
    let (cfg_name, cfg) = match file {
        Some((p, c)) => (p.display().to_string(), c),
        None => ("flags".to_string(), FileConfig::default()),
    };
    let mode = match (mode, &cfg.mode) {
        (Some(m), _) => parse_mode(&m, "--mode")?,
        (None, Some(m)) => parse_mode(m, &format!("{cfg_name}: mode"))?,
        (None, None) => Mode::Single,
    };
    let names: Vec<String> = models
        .or(cfg.models.clone())
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
    let Some(judge_name) = common.judge.clone().or(cfg.judge.clone()) else {
        return usage("no judge model: give --judge MODEL or `judge = \"...\"` in the config");
    };
    let baseline = baseline.or(cfg.baseline.clone());
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
    let Some(questions) = common.questions.clone().or(cfg.questions.clone()) else {
        return usage(
            "no question file: give --questions FILE or `questions = \"...\"` in the config",
        );
    };
    let default_ep = endpoint(
        &cfg.endpoint,
        Some(&common.endpoint),
        &format!("{cfg_name} [endpoint]"),
    )?;
    let max_tokens = common.max_tokens.or(cfg.max_tokens).unwrap_or(1024);
    let temperature = common.temperature.or(cfg.temperature);
    if let Some(t) = temperature
        && !(0.0..=2.0).contains(&t)
    {
        return usage(format!("--temperature {t} is outside 0-2"));
    }
    let system_prompt = common.system_prompt.clone().or(cfg.system_prompt.clone());
    if cfg.judge_samples == Some(0) {
        return usage(format!("{cfg_name}: judge_samples must be at least 1"));
    }
    let model_tables = &cfg.model;
    // The judge takes only its own [model.NAME] settings: the candidates' temperature and
    // system prompt must not leak into judging.
    let resolve_model = |name: &str, is_judge: bool| -> Result<ModelOptions, UsageError> {
        let m = model_tables.get(name).cloned().unwrap_or_default();
        let ep = match &m.endpoint {
            None => default_ep.clone(),
            Some(e) => {
                let Some(table) = cfg.endpoints.get(e) else {
                    return usage(format!(
                        "{cfg_name}: model {name:?} names endpoint {e:?}, but there is no [endpoints.{e}] table"
                    ));
                };
                // Named endpoints inherit the [endpoint] table's fields they leave out;
                // flags apply only to the default endpoint.
                let merged = EndpointFile {
                    base_url: table.base_url.clone().or(cfg.endpoint.base_url.clone()),
                    api_key_env: table
                        .api_key_env
                        .clone()
                        .or(cfg.endpoint.api_key_env.clone()),
                    rpm: table.rpm.or(cfg.endpoint.rpm),
                    tpm: table.tpm.or(cfg.endpoint.tpm),
                    concurrency: table.concurrency.or(cfg.endpoint.concurrency),
                    timeout_secs: table.timeout_secs.or(cfg.endpoint.timeout_secs),
                    max_attempts: table.max_attempts.or(cfg.endpoint.max_attempts),
                };
                endpoint(&merged, None, &format!("{cfg_name} [endpoints.{e}]"))?
            }
        };
        Ok(ModelOptions {
            name: name.to_string(),
            api_model: m.api_model.unwrap_or_else(|| name.to_string()),
            endpoint: ep,
            temperature: if is_judge {
                m.temperature
            } else {
                m.temperature.or(temperature)
            },
            max_tokens: m.max_tokens.unwrap_or(max_tokens),
            system_prompt: if is_judge {
                None
            } else {
                m.system_prompt.or(system_prompt.clone())
            },
        })
    };
    let models = names
        .iter()
        .map(|n| resolve_model(n, false))
        .collect::<Result<Vec<_>, _>>()?;
    let judge = resolve_model(&judge_name, true)?;
    let out =
        common.out.clone().or(cfg.out.clone()).unwrap_or_else(|| {
            PathBuf::from("results").join(crate::util::safe_file_name(&judge_name))
        });
    Ok(RunOptions {
        mode,
        models,
        judge,
        baseline: if mode == Mode::PairwiseBaseline {
            baseline
        } else {
            None
        },
        questions,
        references: common.references.clone().or(cfg.references.clone()),
        out,
        prompts: common.prompts.clone().or(cfg.prompts.clone()),
        judge_max_tokens: common
            .judge_max_tokens
            .or(cfg.judge_max_tokens)
            .unwrap_or(2048),
        reasks: common.reasks.or(cfg.reasks).unwrap_or(2),
        judge_samples: common.judge_samples.or(cfg.judge_samples).unwrap_or(1),
        aspects: resolve_aspects(
            common.aspects.clone().or(cfg.aspects.clone()),
            &if common.aspect_weights.is_empty() {
                cfg.aspect_weights.clone()
            } else {
                parse_weights(&common.aspect_weights)?
            },
            &cfg_name,
        )?,
        stats: common.stats.options(false),
        cache: if common.no_cache {
            None
        } else {
            cache_path(common.cache.as_deref(), cfg.cache.as_deref())
        },
        cache_mode: match (common.no_cache, common.refresh) {
            (true, _) => CacheMode::Off,
            (false, true) => CacheMode::Refresh,
            (false, false) => CacheMode::Use,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(judge: &str, q: &str) -> CommonArgs {
        CommonArgs {
            judge: Some(judge.into()),
            questions: Some(q.into()),
            ..Default::default()
        }
    }

    #[test]
    fn baseline_must_be_a_candidate() {
        let err = resolve(
            None,
            Some(vec!["a".into(), "b".into()]),
            Some("pairwise-baseline".into()),
            Some("c".into()),
            &common("j", "q.jsonl"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--baseline \"c\" is not among --models"),
            "{err}"
        );
    }

    #[test]
    fn config_tables_give_per_model_endpoints_and_flags_override() {
        let cfg: FileConfig = toml::from_str(
            r#"
            models = ["local-7b", "gpt-4o-mini"]
            judge = "gpt-4o"
            mode = "single"
            [endpoint]
            base_url = "https://api.openai.com/v1"
            rpm = 500
            [endpoints.local]
            base_url = "http://127.0.0.1:8080/v1"
            api_key_env = ""
            [model.local-7b]
            endpoint = "local"
            api_model = "llm-jp/llm-jp-3-7b-instruct"
            "#,
        )
        .unwrap();
        let mut c = common("gpt-4o", "q.jsonl");
        c.endpoint.rpm = Some(60);
        let o = resolve(Some((Path::new("x.toml"), cfg)), None, None, None, &c).unwrap();
        assert_eq!(o.models[0].endpoint.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(o.models[0].endpoint.api_key_env, None);
        assert_eq!(o.models[0].api_model, "llm-jp/llm-jp-3-7b-instruct");
        assert_eq!(o.models[1].endpoint.rpm, NonZeroU32::new(60));
        assert_eq!(o.judge.endpoint.base_url, "https://api.openai.com/v1");
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let err = toml::from_str::<FileConfig>("modles = [\"a\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("modles"), "{err}");
    }
}
