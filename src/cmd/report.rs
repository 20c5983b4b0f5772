//! `shinpan report`.

use crate::aggregate::{build_reports, load_judgments};
use crate::cli::ReportArgs;
use crate::config::parse_mode;
use crate::pipeline::print_reports;

pub fn report(a: ReportArgs) -> anyhow::Result<()> {
    let mode = a
        .mode
        .as_deref()
        .map(|m| parse_mode(m, "--mode"))
        .transpose()?;
    let opts = a.stats.options(a.errors_as_ties);
    let loaded = load_judgments(&a.paths)?;
    for (path, what) in &loaded.other {
        eprintln!(
            "shinpan: note: {} holds {what}, not judgments; not counted",
            path.display()
        );
    }
    let reports = build_reports(&loaded, a.baseline.as_deref(), mode, &opts)?;
    print_reports(&reports, a.format)
}
