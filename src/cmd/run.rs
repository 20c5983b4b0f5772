//! `shinpan run` and `shinpan compare`.

use std::path::PathBuf;

use crate::aggregate::answers::AnswerIndex;
use crate::aggregate::headtohead::head_to_head;
use crate::cli::{CompareArgs, RunArgs};
use crate::config::{Layers, RunOptions, Settings, parse_mode};
use crate::error::{Interrupted, ItemsFailed, OutputFailed, usage};
use crate::pipeline::RunOutput;
use crate::pipeline::{self, Verbosity, print_reports};
use crate::records::{PairGame, RunDir};
use crate::store::read_jsonl_into;
use crate::types::Mode;

pub async fn run(a: RunArgs) -> anyhow::Result<()> {
    let layers = a.layers()?;
    let modes = modes(&layers)?;
    if let Some(n) = layers.file.as_ref().and_then(|(_, s)| s.nightly.clone()) {
        return super::nightly::nightly(&a, layers, &modes, n).await;
    }
    if a.name.is_some() || a.fail_on_regression.is_some() {
        return Ok(usage(
            "--name and --fail-on-regression are for a recurring run: give a config file with a [nightly] table",
        )?);
    }
    let verbosity = a.common.verbosity();
    let runs = run_modes(&layers, &modes, None, verbosity).await?;
    let reports: Vec<_> = runs.iter().map(|(_, o)| o.report.clone()).collect();
    print_reports(&reports, a.common.format)?;
    exit_for_all(&runs)
}

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

pub async fn compare(a: CompareArgs) -> anyhow::Result<()> {
    if a.a == a.b {
        return Ok(usage(format!("compare: A and B are both {:?}", a.a))?);
    }
    let file = match &a.config {
        Some(p) => Some((p.clone(), Settings::load(p)?)),
        None => None,
    };
    let mut flags = a.common.layer()?;
    flags.models = Some(vec![a.a.clone(), a.b.clone()]);
    flags.mode = Some(Mode::PairwiseBaseline.as_str().into());
    flags.baseline = Some(a.b.clone());
    let mut layers = Layers { file, flags };
    if layers.flags.out.is_none() {
        // Beside the set's other runs, named by the two models.
        layers.flags.out = Some(layers.set_dir().join(format!(
            "compare-{}-vs-{}",
            crate::util::safe_file_name(&a.a),
            crate::util::safe_file_name(&a.b)
        )));
    }
    let opts = layers.resolve()?;
    let verbosity = a.common.verbosity();
    let out = pipeline::run_with(&opts, verbosity).await?;
    summarize(&opts, &out, verbosity);
    // The head-to-head from the run's current judgments.
    let path = RunDir::new(&opts.out).judgments(&opts.judge.name, opts.mode);
    let mut games = Vec::new();
    read_jsonl_into::<PairGame>(&path, &mut games)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let rows: Vec<&PairGame> = games.iter().collect();
    let h = head_to_head(
        &rows,
        &a.a,
        &a.b,
        &AnswerIndex::default(),
        opts.stats.bootstrap,
        a.show,
    );
    let bytes = crate::report::headtohead::render(&h, a.common.format)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &bytes)?;
    exit_for(&opts, &out)
}

/// The closing summary on stderr.
fn summarize(opts: &RunOptions, out: &RunOutput, verbosity: Verbosity) {
    if verbosity != Verbosity::Quiet {
        eprintln!("shinpan: {}", out.summary.line());
        for l in out.summary.failure_lines() {
            eprintln!("shinpan:   {l}");
        }
        eprintln!("shinpan: results in {}", opts.out.display());
    }
}

/// How the run ended, as the error that decides the exit code.
fn exit_for(opts: &RunOptions, out: &RunOutput) -> anyhow::Result<()> {
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
