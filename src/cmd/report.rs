//! `shinpan report`.

use crate::aggregate::{build_reports, load_judgments};
use crate::cli::ReportArgs;
use crate::config::parse_mode;
use crate::pipeline::print_reports;
use crate::report::{Exporter, Format, HtmlExporter, ReportFormat};
use crate::review::Only;
use std::io::Write;

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
    warn_mixed_versions(&reports);
    let format = match a.format {
        ReportFormat::Table => Format::Table,
        ReportFormat::Md => Format::Md,
        ReportFormat::Json => Format::Json,
        ReportFormat::Html => {
            let page = HtmlExporter {
                items: run_items(&a.paths),
                title: None,
            }
            .serialize(&reports)?;
            let mut out = std::io::stdout().lock();
            out.write_all(&page)?;
            return Ok(out.flush()?);
        }
    };
    print_reports(&reports, format)
}

/// The judged items of the run directories among `paths`, for the page to browse.
fn run_items(paths: &[std::path::PathBuf]) -> Vec<crate::review::ReviewRecord> {
    let mut items = Vec::new();
    for p in paths.iter().filter(|p| p.join("judgments").is_dir()) {
        match crate::review::collect(p, None, Only::All) {
            Ok(mut v) => items.append(&mut v),
            Err(e) => eprintln!("shinpan: note: {}: no items to browse: {e}", p.display()),
        }
    }
    items
}

/// Says when one judge's judgments come from several versions of a benchmark set: they are
/// reported apart, never averaged together.
fn warn_mixed_versions(reports: &[crate::aggregate::Report]) {
    let mut seen: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
    for r in reports {
        seen.entry((r.judge.as_str(), r.mode.file_kind()))
            .or_default()
            .push(r.bench.as_deref().unwrap_or("no recorded set"));
    }
    for ((judge, kind), versions) in seen.into_iter().filter(|(_, v)| v.len() > 1) {
        eprintln!(
            "shinpan: warning: {kind} judgments of {judge} come from {} benchmark versions ({}); they are reported apart",
            versions.len(),
            versions.join(", ")
        );
    }
}
