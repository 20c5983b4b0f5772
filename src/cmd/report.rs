//! `shinpan report`.

use crate::aggregate::{build_reports, load_judgments};
use crate::cli::ReportArgs;
use crate::pipeline::print_reports;

pub fn report(a: ReportArgs) -> anyhow::Result<()> {
    let loaded = load_judgments(&a.paths)?;
    let reports = build_reports(&loaded, a.baseline.as_deref())?;
    print_reports(&reports, a.format)
}
