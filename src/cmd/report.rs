//! `shinpan report`.

use crate::aggregate::{BootstrapOptions, StatsOptions, build_reports, load_judgments};
use crate::cli::ReportArgs;
use crate::config::parse_mode;
use crate::pipeline::print_reports;

pub fn report(a: ReportArgs) -> anyhow::Result<()> {
    let mode = a
        .mode
        .as_deref()
        .map(|m| parse_mode(m, "--mode"))
        .transpose()?;
    let opts = StatsOptions {
        bootstrap: BootstrapOptions {
            rounds: a.bootstrap,
            seed: a.seed,
        },
        errors_as_ties: a.errors_as_ties,
        max_listed: a.max_listed,
        non_japanese_as_failure: a.non_japanese_as_failure,
    };
    let loaded = load_judgments(&a.paths)?;
    let reports = build_reports(&loaded, a.baseline.as_deref(), mode, &opts)?;
    print_reports(&reports, a.format)
}
