//! Validating merged settings into [`RunOptions`]: every problem is a [`UsageError`] naming
//! the flag or config key to fix, found before anything is sent or written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::endpoints::{endpoint, endpoint_notes};
use super::{AllowFailures, ModelOptions, RunOptions, Settings};
use crate::aggregate::{BootstrapOptions, StatsOptions};
use crate::client::{CacheMode, EndpointConfig};
use crate::defaults;
use crate::error::{UsageError, usage};
use crate::records::GamePlan;
use crate::types::Mode;

/// Validates merged settings. `file` and `flags` are the layers as given, for messages that
/// say which endpoint a flag changed.
pub(super) fn resolve(
    s: Settings,
    file: &Settings,
    flags: &Settings,
    cfg_name: &str,
) -> Result<RunOptions, UsageError> {
    let (mode, names, baseline, sampled) = roles(&s)?;
    let plan = plan(&s, sampled)?;
    let tasks = tasks(&s, mode, cfg_name)?;
    // Tasks are scored by rule: no judge, nothing to pool.
    let judge_names = match &tasks {
        Some(_) => Vec::new(),
        None => judges(&s, cfg_name)?,
    };
    let pool = match &tasks {
        Some(_) => None,
        None => pool(&s, mode, judge_names.len())?,
    };
    if judge_names.len() > 1 && matches!(plan, Some(crate::records::GamePlan::Adaptive { .. })) {
        return usage(
            "--mode pairwise-adaptive chooses its next games from one judge's verdicts: a panel (--judges) plays pairwise-all or pairwise-n",
        );
    }
    let bench = match &s.bench {
        Some(spec) => {
            if s.questions.is_some() {
                return usage(format!(
                    "--bench {spec} and --questions both name the questions: give one"
                ));
            }
            let dir = s.data_dir.clone().unwrap_or_else(crate::data::default_dir);
            Some(crate::data::resolve(spec, &dir).map_err(|e| UsageError(e.0))?)
        }
        None => None,
    };
    let Some(questions) = s
        .questions
        .clone()
        .or_else(|| bench.as_ref().map(|b| b.questions.clone()))
        .or_else(|| tasks.as_ref().map(|t| t.paths[0].clone()))
    else {
        return usage(
            "no question file: give --questions FILE, --bench NAME, --tasks PATH…, or `questions = \"...\"` in the config",
        );
    };
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
    let mut default_ep = endpoint(&s.endpoint, &format!("{cfg_name} [endpoint]"))?;
    let max_reply_bytes = positive(s.max_reply_bytes, "max_reply_bytes (--max-reply-bytes)")?
        .unwrap_or(defaults::MAX_REPLY_BYTES);
    default_ep.max_reply_bytes = max_reply_bytes;
    let max_turn_bytes = positive(s.max_turn_bytes, "max_turn_bytes (--max-turn-bytes)")?
        .unwrap_or(defaults::MAX_TURN_BYTES);
    let models = names
        .iter()
        .map(|n| model(&s, n, false, &default_ep, cfg_name))
        .collect::<Result<Vec<_>, _>>()?;
    let judges = judge_names
        .iter()
        .map(|n| model(&s, n, true, &default_ep, cfg_name))
        .collect::<Result<Vec<_>, _>>()?;
    unused_tables(file, &names, &judge_names, cfg_name)?;
    let notes = endpoint_notes(
        models.iter().chain(&judges),
        &flags.endpoint,
        &file.endpoints,
    )?;
    let (cache, cache_mode) = cache(&s)?;
    let shard = s
        .shard
        .as_deref()
        .map(|spec| crate::types::Shard::parse(spec, |v| std::env::var(v).ok()))
        .transpose()
        .map_err(UsageError)?;
    if let (Some(_), Some(p)) = (shard, plan) {
        return usage(format!(
            "--shard cannot split --mode {}: its games are drawn from all the questions (run it on one machine, or shard pairwise-all)",
            p.mode_name()
        ));
    }
    // One judge's runs are named by it; a panel's by its judges.
    let default_run_out =
        default_out(&s, &questions).join(crate::util::safe_file_name(&if tasks.is_some() {
            crate::tasks::SCORER.to_string()
        } else if judge_names.len() == 1 {
            judge_names[0].clone()
        } else {
            format!("panel-{}", judge_names.join("+"))
        }));
    Ok(RunOptions {
        shard,
        plan,
        mode,
        baseline,
        questions,
        references: s
            .references
            .clone()
            .or_else(|| bench.as_ref().and_then(|b| b.references.clone())),
        bench: bench.as_ref().map(crate::data::Bench::label),
        keep_reasoning: s.keep_reasoning.unwrap_or(false),
        prompt_set: prompt_set(&s, bench.as_ref())?,
        out: s.out.clone().unwrap_or(default_run_out),
        prompts: s.prompts.clone(),
        judge_max_tokens: s.judge_max_tokens.unwrap_or(defaults::JUDGE_MAX_TOKENS),
        max_turn_bytes,
        reasks: s.reasks.unwrap_or(defaults::REASKS),
        judge_samples: s.judge_samples.unwrap_or(defaults::JUDGE_SAMPLES),
        aspects: resolve_aspects(s.aspects.clone(), &s.aspect_weights, cfg_name)?,
        rubric_scale: rubric_scale(s.rubric_scale.as_deref(), cfg_name)?,
        stats: stats(&s),
        cache,
        cache_mode,
        allow_failures: AllowFailures::parse(
            s.allow_failures
                .as_deref()
                .unwrap_or(defaults::ALLOW_FAILURES),
        )?,
        notes,
        models,
        judges,
        pool,
        tasks,
    })
}

/// `--tasks` with `--few-shots` and `--max-samples`: single mode, no judge; the counts
/// checked (`--max-samples -1` takes every sample).
fn tasks(
    s: &Settings,
    mode: Mode,
    cfg_name: &str,
) -> Result<Option<crate::tasks::TaskOptions>, UsageError> {
    let Some(paths) = &s.tasks else {
        for (set, flag) in [
            (s.few_shots.is_some(), "--few-shots"),
            (s.max_samples.is_some(), "--max-samples"),
        ] {
            if set {
                return usage(format!("{flag} applies to --tasks, and none are given"));
            }
        }
        return Ok(None);
    };
    if paths.is_empty() {
        return usage(format!("{cfg_name}: `tasks` names no task file"));
    }
    if s.questions.is_some() || s.bench.is_some() {
        return usage(
            "--tasks and --questions/--bench both name what is evaluated: give tasks and questions separate runs",
        );
    }
    if mode != Mode::Single || s.modes.is_some() {
        return usage(format!(
            "--tasks are scored per sample by rule (single mode); --mode {} does not apply",
            s.mode.as_deref().unwrap_or("(modes)")
        ));
    }
    if s.judge.is_some() || s.judges.is_some() {
        return usage(
            "--tasks are scored by rule (llm-jp-eval's metrics) and need no judge: drop --judge/--judges",
        );
    }
    let max_samples = match s.max_samples {
        None => Some(crate::tasks::DEFAULT_MAX_SAMPLES),
        Some(-1) => None,
        Some(n) if n >= 1 => Some(n as usize),
        Some(n) => {
            return usage(format!(
                "--max-samples {n}: give a positive count, or -1 for all"
            ));
        }
    };
    // A fetched task set by name (`--tasks jglue`): its converted test files.
    let data_dir = s.data_dir.clone().unwrap_or_else(crate::data::default_dir);
    let paths = paths
        .iter()
        .map(|p| match p.to_str() {
            Some(name) if !p.exists() => match crate::data::task_dir(name, &data_dir) {
                Some(dir) => dir.map_err(|e| UsageError(e.0)),
                None => Ok(p.clone()),
            },
            _ => Ok(p.clone()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(crate::tasks::TaskOptions {
        paths,
        few_shots: s.few_shots,
        max_samples,
    }))
}

/// The judges of a run: `--judge`, or the panel of `--judges` (`judges = [...]`). A judge
/// named twice, a name with a comma (a panel given to `--judge`) or no judge at all is
/// refused; a judge that is also a candidate is allowed (the report flags it as judging
/// itself).
fn judges(s: &Settings, cfg_name: &str) -> Result<Vec<String>, UsageError> {
    let names: Vec<String> = match (&s.judge, &s.judges) {
        (Some(_), Some(_)) => {
            return usage(format!(
                "{cfg_name}: `judge` and `judges` both name the judges: give one (--judge for one judge, --judges A,B,C for a panel)"
            ));
        }
        (Some(j), None) if j.contains(',') => {
            return usage(format!(
                "--judge {j:?} names one judge, and model names have no comma: for a panel give --judges {j}"
            ));
        }
        (Some(j), None) => vec![j.trim().to_string()],
        (None, Some(js)) => js.iter().map(|j| j.trim().to_string()).collect(),
        (None, None) => {
            return usage(
                "no judge model: give --judge MODEL (or --judges A,B,C for a panel), or `judge = \"...\"` in the config",
            );
        }
    };
    if names.is_empty() || names.iter().any(String::is_empty) {
        return usage("--judges: a judge without a name (judges = [...] lists names)");
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return usage(format!("--judges: {n:?} is named twice"));
        }
    }
    Ok(names)
}

/// The pooling rule of a panel: `--pool`, else the mode's default; refused for one judge,
/// where there is nothing to pool.
fn pool(s: &Settings, mode: Mode, judges: usize) -> Result<Option<crate::types::Pool>, UsageError> {
    use crate::types::Pool;
    match (&s.pool, judges) {
        (Some(p), 1) => usage(format!(
            "--pool {p}: a single judge has nothing to pool (give a panel with --judges A,B,C)"
        )),
        (Some(p), _) => match Pool::parse(p) {
            Some(Pool::Mean | Pool::Median) if !mode.is_graded() => usage(format!(
                "--pool {p}: the verdicts of a game are pooled by majority (mean and median pool grades)"
            )),
            Some(rule) => Ok(Some(rule)),
            None => usage(format!("--pool {p:?}: expected mean, median or majority")),
        },
        (None, 1) => Ok(None),
        (None, _) => Ok(Some(Pool::default_for(mode))),
    }
}

/// The mode, the candidates, the baseline, and the sampled mode's name, if one.
type Roles = (Mode, Vec<String>, Option<String>, Option<&'static str>);

/// The mode, the candidate models (trimmed, none twice), the baseline (pairwise-baseline
/// only) and the sampled mode (pairwise-n, pairwise-adaptive), checked against each other.
fn roles(s: &Settings) -> Result<Roles, UsageError> {
    // The sampled modes play some of pairwise-all's games: their records and reports are
    // pairwise-all's.
    let (mode, sampled) = match s.mode.as_deref().map(str::trim) {
        Some(m) if let Some(&name) = super::SAMPLED_MODES.iter().find(|n| **n == m) => {
            (Mode::PairwiseAll, Some(name))
        }
        Some(m) => (
            Mode::parse(m).ok_or_else(|| {
                UsageError(format!(
                    "--mode: unknown mode {m:?}; expected single, rubric, pairwise-baseline, pairwise-all, pairwise-n or pairwise-adaptive"
                ))
            })?,
            None,
        ),
        None => (Mode::Single, None),
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
    colliding_files(&names)?;
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
            return usage(format!(
                "--mode {} needs at least two models in --models",
                sampled.unwrap_or("pairwise-all")
            ));
        }
        Mode::PairwiseAll => {}
    }
    let baseline = baseline.filter(|_| mode == Mode::PairwiseBaseline);
    Ok((mode, names, baseline, sampled))
}

/// A `[model.X]` table whose model the run never uses is most often a misspelling, and its
/// endpoint, API name and price would silently not apply: a config file that lists its
/// models may have tables only for them, the run's models and the judge. (A file that lists
/// none is a library of model settings, `compare`'s for one.)
fn unused_tables(
    file: &Settings,
    models: &[String],
    judges: &[String],
    cfg_name: &str,
) -> Result<(), UsageError> {
    let Some(listed) = &file.models else {
        return Ok(());
    };
    let known: Vec<&str> = listed
        .iter()
        .chain(models)
        .chain(judges)
        .chain(file.judges.iter().flatten())
        .map(|m| m.trim())
        .chain(file.judge.as_deref())
        .collect();
    for table in file.model.keys() {
        if known.contains(&table.as_str()) {
            continue;
        }
        let closest = known
            .iter()
            .min_by_key(|k| crate::util::edit_distance(k, table))
            .map(|k| format!("; did you mean [model.{k}]?"))
            .unwrap_or_default();
        return usage(format!(
            "{cfg_name}: [model.{table}] is for a model that is neither a candidate nor the judge, so its settings would not apply{closest}"
        ));
    }
    Ok(())
}

/// Candidates whose answer files would be one file: `a/b` and `a--b` both become
/// `answers/a--b.jsonl` (and `A` and `a` are one file on a case-insensitive disk), where two
/// writers would interleave their lines.
fn colliding_files(names: &[String]) -> Result<(), UsageError> {
    let file = |n: &str| crate::util::safe_file_name(n).to_lowercase();
    for (i, a) in names.iter().enumerate() {
        if let Some(b) = names[..i].iter().find(|b| file(b) == file(a)) {
            return usage(format!(
                "--models: {b:?} and {a:?} would share one answer file (answers/{}.jsonl); rename one of them (the config's api_model keeps the name the API expects)",
                crate::util::safe_file_name(a)
            ));
        }
    }
    Ok(())
}

/// The directory of a run's question set under `results/`: the `--bench` set as named
/// (`japanese-mt-bench@60`), else the question file's name without its extension, so runs of
/// two sets never meet in one directory by default.
pub fn default_out(s: &Settings, questions: &std::path::Path) -> PathBuf {
    let set = match &s.bench {
        Some(spec) => spec.trim().to_string(),
        None if s.tasks.is_some() => "tasks".to_string(),
        None => questions
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "questions".into()),
    };
    PathBuf::from("results").join(crate::util::safe_file_name(&set))
}

/// The game plan of a sampled mode, from `--games`, `--confidence` and `--seed`.
fn plan(s: &Settings, sampled: Option<&str>) -> Result<Option<GamePlan>, UsageError> {
    let seed = s.seed.unwrap_or(defaults::SEED);
    match sampled {
        None if s.games.is_some() || s.confidence.is_some() => {
            usage("--games and --confidence apply to --mode pairwise-n and pairwise-adaptive")
        }
        None => Ok(None),
        Some("pairwise-n") => {
            if s.confidence.is_some() {
                return usage("--confidence applies to --mode pairwise-adaptive, not pairwise-n");
            }
            match s.games {
                Some(0) | None => usage("--mode pairwise-n needs --games N (at least 1)"),
                Some(games) => Ok(Some(GamePlan::Sample { games, seed })),
            }
        }
        Some(_) => {
            let confidence = s.confidence.unwrap_or(defaults::CONFIDENCE);
            if !(confidence > 0.5 && confidence < 1.0) {
                return usage(format!(
                    "--confidence {confidence} must be above 0.5 and below 1 (0.95: stop when each neighbour's order is 95% probable)"
                ));
            }
            if s.games == Some(0) {
                return usage("--games must be at least 1");
            }
            Ok(Some(GamePlan::Adaptive {
                budget: s.games.unwrap_or(u64::MAX),
                confidence,
                seed,
            }))
        }
    }
}

/// One model's options: its `[model.NAME]` table over the run's settings, on its endpoint.
/// The judge takes only its own table's temperature and system prompt: the candidates' must
/// not leak into judging.
fn model(
    s: &Settings,
    name: &str,
    is_judge: bool,
    default_ep: &EndpointConfig,
    cfg_name: &str,
) -> Result<ModelOptions, UsageError> {
    let m = s.model.get(name).cloned().unwrap_or_default();
    let endpoint_names = m.endpoint.as_ref().map(|e| e.names()).unwrap_or_default();
    if m.endpoint.is_some() && endpoint_names.is_empty() {
        return usage(format!(
            "{cfg_name}: model {name:?} has an empty endpoint list; name at least one [endpoints.NAME] table"
        ));
    }
    let mut endpoints = Vec::new();
    for e in &endpoint_names {
        let Some(table) = s.endpoints.get(e) else {
            return usage(format!(
                "{cfg_name}: model {name:?} names endpoint {e:?}, but there is no [endpoints.{e}] table"
            ));
        };
        let merged = s.endpoint.clone().merge(table);
        let mut config = endpoint(&merged, &format!("{cfg_name} [endpoints.{e}]"))?;
        config.max_reply_bytes = default_ep.max_reply_bytes;
        endpoints.push(config);
    }
    if endpoints.is_empty() {
        endpoints.push(default_ep.clone());
    }
    Ok(ModelOptions {
        name: name.to_string(),
        api_model: m.api_model.unwrap_or_else(|| name.to_string()),
        endpoint_names,
        endpoints,
        temperature: if is_judge {
            m.temperature
        } else {
            m.temperature.or(s.temperature)
        },
        max_tokens: m
            .max_tokens
            .unwrap_or(s.max_tokens.unwrap_or(defaults::MAX_TOKENS)),
        system_prompt: if is_judge {
            None
        } else {
            m.system_prompt.or(s.system_prompt.clone())
        },
        price: match m.price {
            Some(p) if !(p.input >= 0.0 && p.output >= 0.0) => {
                return usage(format!(
                    "{cfg_name}: [model.{name}] price: input and output must be 0 or more (per million tokens)"
                ));
            }
            p => p,
        },
    })
}

/// A size that must be at least 1, if given.
fn positive(v: Option<usize>, what: &str) -> Result<Option<usize>, UsageError> {
    match v {
        Some(0) => usage(format!("{what} must be at least 1")),
        v => Ok(v),
    }
}

/// How reports aggregate.
fn stats(s: &Settings) -> StatsOptions {
    StatsOptions {
        bootstrap: BootstrapOptions {
            rounds: s.bootstrap.unwrap_or(defaults::BOOTSTRAP),
            seed: s.seed.unwrap_or(defaults::SEED),
        },
        errors_as_ties: false,
        max_listed: s.max_listed.unwrap_or(defaults::MAX_LISTED),
        non_japanese_as_failure: s.non_japanese_as_failure.unwrap_or(false),
    }
}

/// The response cache file and how it is used.
fn cache(s: &Settings) -> Result<(Option<PathBuf>, CacheMode), UsageError> {
    let mode = match (s.no_cache, s.refresh, s.cache_read_only) {
        (true, true, _) => return usage("--no-cache and --refresh cannot be used together"),
        (true, _, true) => {
            return usage("--no-cache and --cache-read-only cannot be used together");
        }
        (_, true, true) => {
            return usage("--refresh and --cache-read-only cannot be used together");
        }
        (true, false, false) => CacheMode::Off,
        (false, true, false) => CacheMode::Refresh,
        (false, false, true) => CacheMode::ReadOnly,
        (false, false, false) => CacheMode::Use,
    };
    let file = match mode {
        CacheMode::Off => None,
        _ => s.cache.clone().or_else(crate::client::default_cache_path),
    };
    Ok((file, mode))
}

/// The rubric's scale from `--rubric-scale MIN-MAX` (default 1-10).
fn rubric_scale(given: Option<&str>, source: &str) -> Result<crate::types::Scale, UsageError> {
    use crate::types::Scale;
    let Some(text) = given else {
        return Ok(Scale::TEN);
    };
    let parsed = text.split_once('-').and_then(|(a, b)| {
        let (min, max) = (a.trim().parse::<u8>().ok()?, b.trim().parse::<u8>().ok()?);
        (min < max && max <= 100).then_some(Scale { min, max })
    });
    parsed.ok_or_else(|| {
        UsageError(format!(
            "{source}: --rubric-scale {text:?}: expected MIN-MAX with MIN below MAX, both whole numbers up to 100 (e.g. 1-5)"
        ))
    })
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

/// The judge prompt set: `--prompt-set` (`shinpan`, a fetched set's name, or a file), else
/// the `--bench` set's own, else none (the built-in prompts).
fn prompt_set(
    s: &Settings,
    bench: Option<&crate::data::Bench>,
) -> Result<Option<(String, PathBuf)>, UsageError> {
    let dir = || s.data_dir.clone().unwrap_or_else(crate::data::default_dir);
    let of_bench = |b: &crate::data::Bench| b.prompts.clone().map(|p| (b.set.name.to_string(), p));
    match s.prompt_set.as_deref().map(str::trim) {
        Some("shinpan") => Ok(None),
        Some(name) if crate::data::find(name).is_some() => {
            // The --bench set was resolved (and its files checked) already.
            let b = match bench.filter(|b| b.set.name == name) {
                Some(b) => b.clone(),
                None => crate::data::resolve(name, &dir())
                    .map_err(|e| UsageError(e.0.replace("--bench", "--prompt-set")))?,
            };
            match of_bench(&b) {
                Some(p) => Ok(Some(p)),
                None => usage(format!("--prompt-set {name}: the set has no judge prompts")),
            }
        }
        Some(file) => {
            let path = PathBuf::from(file);
            if !path.is_file() {
                return usage(format!(
                    "--prompt-set {file}: not a known set (shinpan data list) nor a judge_prompts.jsonl file"
                ));
            }
            let name = path
                .file_stem()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| file.to_string());
            Ok(Some((name, path)))
        }
        None => Ok(bench.and_then(of_bench)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Layers, test_flags};
    use super::*;

    #[test]
    fn baseline_must_be_a_candidate() {
        let mut f = test_flags("j", "q.jsonl");
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
