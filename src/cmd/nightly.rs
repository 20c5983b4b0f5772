//! `shinpan run CONFIG` when the config has a `[nightly]` table: the run goes to
//! `OUT/<date or --name>/`, its figures are added to the history, and each model is compared
//! with the previous comparable run; `--fail-on-regression` turns a real drop into exit 3.

use std::path::PathBuf;

use super::sequence::{exit_for_all, run_modes};
use crate::cli::RunArgs;
use crate::config::{Layers, NightlySettings};
use crate::error::{Regressed, UsageError, usage};
use crate::nightly::{self, Change, RunContext, Status, Threshold, changes};
use crate::records::{append_history, latest_per_run, read_history};
use crate::report::Format;
use crate::store::write_atomic;
use crate::util::{rfc3339, unix_now, utc_date};

/// Runs a recurring config once.
pub async fn nightly(
    a: &RunArgs,
    layers: Layers,
    modes: &[Option<String>],
    n: NightlySettings,
) -> anyhow::Result<()> {
    let Some((config, _)) = layers.file.clone() else {
        unreachable!("[nightly] comes from a config file");
    };
    let cfg = config.display().to_string();
    // Each night asks afresh: the response cache is written, not read, so a model changed
    // behind the same name is measured as it is now. A resumed run of the same name still
    // reuses what its directory holds.
    let mut layers = layers;
    if !layers.flags.no_cache {
        layers.flags.refresh = true;
    }
    let name = match &a.name {
        Some(n) => run_name(n)?,
        None => utc_date(),
    };
    let threshold = threshold(a, &n, &cfg)?;
    // The root is the settings' directory; each run is a directory under it.
    let probe = probe(&layers, modes[0].clone())?;
    if let Some(w) = &n.watch
        && let Some(m) = w
            .iter()
            .find(|m| !probe.models.iter().any(|o| &o.name == *m))
    {
        return Ok(usage(format!(
            "{cfg} [nightly] watch: {m:?} is not among the models"
        ))?);
    }
    let root = probe.out.clone();
    let history = history_file(Some(&n), &root);
    // A history that cannot be read is an error before anything is paid for.
    let before = latest_per_run(read_history(&history)?);
    let dir = root.join(&name);
    let verbosity = a.common.verbosity();
    let runs = run_modes(&layers, modes, Some(dir.clone()), verbosity).await?;

    let questions = crate::records::RunDir::new(&dir).questions();
    let ctx = RunContext {
        run: &name,
        date: &rfc3339(unix_now()),
        config_digest: &nightly::digest(&std::fs::read(&config)?),
        questions_digest: &nightly::digest(
            &std::fs::read(&questions)
                .map_err(|e| anyhow::anyhow!("{}: {e}", questions.display()))?,
        ),
        dir: &dir,
    };
    let (lines, found) = record(&ctx, &runs, &before, threshold, &n, &history)?;
    let changes_path = dir.join("changes.json");
    write_atomic(
        &changes_path,
        (serde_json::to_string_pretty(&found)? + "\n").as_bytes(),
    )?;
    if verbosity != crate::pipeline::Verbosity::Quiet {
        eprintln!(
            "shinpan: run {name} in {}; {} line(s) added to {}",
            dir.display(),
            lines.len(),
            history.display()
        );
    }
    let reports: Vec<_> = runs.iter().flat_map(|(_, o)| o.reports.clone()).collect();
    print(a.common.format, &name, &dir, &history, &reports, &found)?;
    exit_for_all(&runs)?;
    let regressed: Vec<String> = found
        .iter()
        .filter(|c| c.status == Status::Regressed)
        .map(describe)
        .collect();
    if regressed.is_empty() {
        Ok(())
    } else {
        Err(Regressed(regressed).into())
    }
}

/// The threshold: the flag, else the config's.
fn threshold(a: &RunArgs, n: &NightlySettings, cfg: &str) -> Result<Option<Threshold>, UsageError> {
    Ok(match (&a.fail_on_regression, &n.fail_on_regression) {
        (Some(t), _) => Some(Threshold::parse(t, "--fail-on-regression")?),
        (None, Some(t)) => Some(Threshold::parse(
            t,
            &format!("{cfg} [nightly] fail_on_regression"),
        )?),
        (None, None) => None,
    })
}

/// The run's history lines and changes; the lines (with the gate's verdict) are appended to
/// the history.
fn record(
    ctx: &RunContext,
    runs: &[(crate::config::RunOptions, crate::pipeline::RunOutput)],
    before: &[crate::records::HistoryLine],
    threshold: Option<Threshold>,
    n: &NightlySettings,
    history: &std::path::Path,
) -> anyhow::Result<(Vec<crate::records::HistoryLine>, Vec<Change>)> {
    let mut lines = Vec::new();
    // One series per judge, and one for a panel's pooled figure.
    for (_, out) in runs {
        for r in &out.reports {
            lines.extend(nightly::lines(ctx, r, out.summary.tokens)?);
        }
    }
    let found = changes(before, &lines, threshold, n.watch.as_deref());
    for l in &mut lines {
        l.regressed = found
            .iter()
            .any(|c| c.status == Status::Regressed && c.key == l.key);
    }
    append_history(history, &lines)?;
    Ok((lines, found))
}

/// A run name is one directory name.
fn run_name(n: &str) -> Result<String, UsageError> {
    // A safe file name has no separator and is not empty or all dots; no hidden name either.
    if !n.starts_with('.') && crate::util::safe_file_name(n) == n {
        Ok(n.to_string())
    } else {
        usage(format!(
            "--name {n:?}: a run name is one directory name (letters, digits, - _ .)"
        ))
    }
}

/// One regression in words.
fn describe(c: &Change) -> String {
    let ci = c
        .change_ci
        .map(|[lo, hi]| format!(", 95% interval [{lo:+.3}, {hi:+.3}]"))
        .unwrap_or_default();
    format!(
        "{} ({} {}) {} fell from {:.3} ({}) to {:.3} (change {:+.3}{ci}; threshold {})",
        c.key.model,
        c.key.mode,
        c.key.judge,
        c.key.metric,
        c.previous,
        c.previous_run,
        c.current,
        c.change,
        c.threshold.map(|t| format!("{t}")).unwrap_or_default()
    )
}

fn print(
    format: Format,
    name: &str,
    dir: &std::path::Path,
    history: &std::path::Path,
    reports: &[crate::aggregate::Report],
    found: &[Change],
) -> anyhow::Result<()> {
    use std::io::Write;
    let bytes = match format {
        Format::Json => {
            let v = serde_json::json!({
                "run": name,
                "dir": dir,
                "history": history,
                "reports": reports,
                "changes": found,
            });
            (serde_json::to_string_pretty(&v)? + "\n").into_bytes()
        }
        f => {
            let mut b = f.exporter().serialize(reports)?;
            b.extend(crate::report::history::render_changes(found, f)?);
            b
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    Ok(out.flush()?)
}

/// The history file a config's runs keep.
pub fn history_of(config: &std::path::Path) -> anyhow::Result<PathBuf> {
    let settings = crate::config::Settings::load(config)?;
    // The configured directory, else the one the settings resolve to (as a run finds it).
    let root = match &settings.out {
        Some(o) => o.clone(),
        None => {
            let first = settings.modes.as_ref().and_then(|m| m.first().cloned());
            let layers = Layers {
                file: Some((config.to_path_buf(), settings.clone())),
                flags: Default::default(),
            };
            probe(&layers, first)?.out
        }
    };
    Ok(history_file(settings.nightly.as_ref(), &root))
}

/// The settings of the first mode, resolved: where the runs go, and the models.
fn probe(layers: &Layers, mode: Option<String>) -> Result<crate::config::RunOptions, UsageError> {
    let mut l = layers.clone();
    l.flags.mode = mode.or(l.flags.mode);
    l.resolve()
}

/// The history file: the `[nightly]` table's, else `history.jsonl` in the runs' directory.
fn history_file(n: Option<&NightlySettings>, root: &std::path::Path) -> PathBuf {
    n.and_then(|n| n.history.clone())
        .unwrap_or_else(|| root.join("history.jsonl"))
}
