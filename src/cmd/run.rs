//! `shinpan run` and `shinpan compare`.

use std::path::PathBuf;

use crate::aggregate::Mode;
use crate::cli::{CompareArgs, RunArgs};
use crate::config::{FileConfig, RunOptions, UsageError, resolve};
use crate::pipeline::{self, print_reports};
use crate::report::Format;

pub async fn run(a: RunArgs) -> anyhow::Result<()> {
    let file = match &a.config {
        Some(p) => Some((p.as_path(), FileConfig::load(p)?)),
        None => None,
    };
    let opts = resolve(file, a.models, a.mode, a.baseline, &a.common)?;
    execute(&opts, a.common.format).await
}

pub async fn compare(a: CompareArgs) -> anyhow::Result<()> {
    if a.a == a.b {
        return Err(UsageError(format!("compare: A and B are both {:?}", a.a)).into());
    }
    let mut common = a.common.clone();
    if common.out.is_none() {
        common.out = Some(PathBuf::from("results").join(format!(
            "compare-{}-vs-{}",
            crate::util::safe_file_name(&a.a),
            crate::util::safe_file_name(&a.b)
        )));
    }
    let opts = resolve(
        None,
        Some(vec![a.a.clone(), a.b.clone()]),
        Some(Mode::PairwiseBaseline.as_str().into()),
        Some(a.b.clone()),
        &common,
    )?;
    execute(&opts, common.format).await
}

async fn execute(opts: &RunOptions, format: Format) -> anyhow::Result<()> {
    let out = pipeline::run(opts, true).await?;
    eprintln!("shinpan: {}", out.summary.line());
    for l in out.summary.failure_lines() {
        eprintln!("shinpan:   {l}");
    }
    eprintln!("shinpan: results in {}", opts.out.display());
    print_reports(std::slice::from_ref(&out.report), format)?;
    if out.summary.interrupted {
        std::process::exit(130);
    }
    Ok(())
}
