//! A sequence of runs, one per mode, into one directory, and how it ends (the exit code):
//! what `shinpan run` and a recurring run share.

use std::path::PathBuf;

use crate::config::{Layers, RunOptions, parse_mode};
use crate::error::{Interrupted, ItemsFailed, OutputFailed, usage};
use crate::pipeline::{self, RunOutput, Verbosity};

/// The modes to run: `--mode`, else the config's `modes` (in order) or `mode`; `None` leaves
/// the choice to the settings (single by default).
pub(super) fn modes(layers: &Layers) -> Result<Vec<Option<String>>, crate::error::UsageError> {
    if layers.flags.mode.is_some() {
        return Ok(vec![layers.flags.mode.clone()]);
    }
    match layers
        .file
        .as_ref()
        .and_then(|(p, s)| s.modes.clone().map(|m| (p, m)))
    {
        Some((p, m)) if m.is_empty() => usage(format!("{}: `modes` is empty", p.display())),
        Some((p, m)) => {
            for (i, x) in m.iter().enumerate() {
                if !crate::config::SAMPLED_MODES.contains(&x.as_str()) {
                    parse_mode(x, &format!("{} modes", p.display()))?;
                }
                if m[..i].contains(x) {
                    return usage(format!("{}: modes: {x:?} is listed twice", p.display()));
                }
            }
            Ok(m.into_iter().map(Some).collect())
        }
        None => Ok(vec![None]),
    }
}

/// Runs each mode in turn into one directory (`out` replaces the settings' directory). Every
/// mode's settings are checked before the first request; an interrupted mode ends the
/// sequence.
pub(super) async fn run_modes(
    layers: &Layers,
    modes: &[Option<String>],
    out: Option<PathBuf>,
    verbosity: Verbosity,
) -> anyhow::Result<Vec<(RunOptions, RunOutput)>> {
    let all = modes
        .iter()
        .map(|m| {
            let mut l = layers.clone();
            if m.is_some() {
                l.flags.mode = m.clone();
            }
            if out.is_some() {
                l.flags.out = out.clone();
            }
            l.resolve()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut runs = Vec::new();
    for opts in all {
        let out = pipeline::run_with(&opts, verbosity).await?;
        summarize(&opts, &out, verbosity);
        let stop = out.summary.interrupted();
        runs.push((opts, out));
        if stop {
            break;
        }
    }
    Ok(runs)
}

/// How a sequence of runs ended: interrupted (130), or the first with more failed items than
/// allowed (1).
pub(super) fn exit_for_all(runs: &[(RunOptions, RunOutput)]) -> anyhow::Result<()> {
    if let Some((o, r)) = runs.iter().find(|(_, r)| r.summary.interrupted()) {
        return exit_for(o, r);
    }
    runs.iter().try_for_each(|(o, r)| exit_for(o, r))
}

/// The closing summary on stderr.
pub(super) fn summarize(opts: &RunOptions, out: &RunOutput, verbosity: Verbosity) {
    if verbosity != Verbosity::Quiet {
        eprintln!("shinpan: {}", out.summary.line());
        for l in out.summary.failure_lines() {
            eprintln!("shinpan:   {l}");
        }
        for k in &out.summary.concurrency {
            eprintln!("shinpan: concurrency: {}", k.line());
        }
        eprintln!("shinpan: results in {}", opts.out.display());
    }
}

/// How the run ended, as the error that decides the exit code.
pub(super) fn exit_for(opts: &RunOptions, out: &RunOutput) -> anyhow::Result<()> {
    match &out.summary.stopped {
        Some(crate::pipeline::Stop::Signal(s)) => return Err(Interrupted(*s).into()),
        Some(crate::pipeline::Stop::Output(e)) => return Err(OutputFailed(e.clone()).into()),
        None => {}
    }
    let failed = out.summary.failed_items();
    if !opts.allow_failures.allows(failed, out.summary.items) {
        return Err(ItemsFailed {
            failed,
            allowed: opts.allow_failures.to_string(),
        }
        .into());
    }
    Ok(())
}
