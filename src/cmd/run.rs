//! `shinpan run` and `shinpan compare`.

use std::path::PathBuf;

use crate::aggregate::answers::AnswerIndex;
use crate::aggregate::headtohead::head_to_head;
use crate::cli::{CompareArgs, RunArgs};
use crate::config::{Layers, RunOptions, Settings};
use crate::error::{Interrupted, ItemsFailed, usage};
use crate::pipeline::RunOutput;
use crate::pipeline::{self, Verbosity, print_reports};
use crate::records::{PairGame, RunDir};
use crate::report::Format;
use crate::store::read_jsonl_into;
use crate::types::Mode;

pub async fn run(a: RunArgs) -> anyhow::Result<()> {
    let opts = a.layers()?.resolve()?;
    execute(&opts, a.common.format, a.common.verbosity()).await
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
    flags.out = flags.out.or_else(|| {
        Some(PathBuf::from("results").join(format!(
            "compare-{}-vs-{}",
            crate::util::safe_file_name(&a.a),
            crate::util::safe_file_name(&a.b)
        )))
    });
    flags.models = Some(vec![a.a.clone(), a.b.clone()]);
    flags.mode = Some(Mode::PairwiseBaseline.as_str().into());
    flags.baseline = Some(a.b.clone());
    let opts = Layers { file, flags }.resolve()?;
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

/// Runs, prints the summary and the report, and turns how the run ended into the error that
/// decides the exit code: interrupted (130), or more failed items than allowed (1).
async fn execute(opts: &RunOptions, format: Format, verbosity: Verbosity) -> anyhow::Result<()> {
    let out = pipeline::run_with(opts, verbosity).await?;
    summarize(opts, &out, verbosity);
    print_reports(std::slice::from_ref(&out.report), format)?;
    exit_for(opts, &out)
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
    if out.summary.interrupted {
        return Err(Interrupted.into());
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
