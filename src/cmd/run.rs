//! `shinpan run` and `shinpan compare`.

use std::path::PathBuf;

use crate::cli::{CompareArgs, RunArgs};
use crate::config::{Layers, RunOptions};
use crate::error::{Interrupted, ItemsFailed, usage};
use crate::pipeline::{self, Verbosity, print_reports};
use crate::report::Format;
use crate::types::Mode;

pub async fn run(a: RunArgs) -> anyhow::Result<()> {
    let opts = a.layers()?.resolve()?;
    execute(&opts, a.common.format, a.common.verbosity()).await
}

pub async fn compare(a: CompareArgs) -> anyhow::Result<()> {
    if a.a == a.b {
        return Ok(usage(format!("compare: A and B are both {:?}", a.a))?);
    }
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
    let opts = Layers { file: None, flags }.resolve()?;
    execute(&opts, a.common.format, a.common.verbosity()).await
}

/// Runs, prints the summary and the report, and turns how the run ended into the error that
/// decides the exit code: interrupted (130), or more failed items than allowed (1).
async fn execute(opts: &RunOptions, format: Format, verbosity: Verbosity) -> anyhow::Result<()> {
    let out = pipeline::run_with(opts, verbosity).await?;
    if verbosity != Verbosity::Quiet {
        eprintln!("shinpan: {}", out.summary.line());
        for l in out.summary.failure_lines() {
            eprintln!("shinpan:   {l}");
        }
        eprintln!("shinpan: results in {}", opts.out.display());
    }
    print_reports(std::slice::from_ref(&out.report), format)?;
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
