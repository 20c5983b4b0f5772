//! The run's reports on disk and on stdout.

use anyhow::Context;

use crate::aggregate::{Report, StatsOptions, build_reports, load_judgments_as};
use crate::records::{Manifest, RunDir};
use crate::report::{Exporter, Format, HtmlExporter, JsonExporter, MarkdownExporter};
use crate::store::write_atomic;

/// Writes `report-<mode>.md` and `report-<mode>.json` into the run directory: a mode's
/// reports in one file (a panel's: each judge's, then the pooled one).
pub fn write_reports(out: &std::path::Path, reports: &[Report]) -> anyhow::Result<()> {
    let dir = RunDir::new(out);
    let mut modes: Vec<crate::types::Mode> = reports.iter().map(|r| r.mode).collect();
    modes.dedup();
    for mode in modes {
        let of_mode: Vec<Report> = reports.iter().filter(|r| r.mode == mode).cloned().collect();
        for (ext, bytes) in [
            ("md", MarkdownExporter.serialize(&of_mode)?),
            ("json", JsonExporter.serialize(&of_mode)?),
        ] {
            let p = dir.report(mode, ext);
            write_atomic(&p, &bytes).with_context(|| p.display().to_string())?;
        }
    }
    Ok(())
}

/// Writes `report.html` into the run directory: every report its current judgments give (all
/// modes and judges it holds), with its items to browse. `manifest` stands for the
/// directory's `run.json` (the manifest about to be written). A page that cannot be written
/// is a failed output, as any other.
pub fn write_page(
    out: &std::path::Path,
    stats: &StatsOptions,
    manifest: Option<&Manifest>,
) -> anyhow::Result<()> {
    let loaded = load_judgments_as(&[out.to_path_buf()], manifest.map(|m| (out, m)))?;
    let reports = build_reports(&loaded, None, None, stats)?;
    let items = crate::review::items(out, None)?;
    let page = HtmlExporter { items, title: None }.serialize(&reports)?;
    let p = RunDir::new(out).page();
    write_atomic(&p, &page).with_context(|| format!("report.html not written: {}", p.display()))
}

/// Prints reports in a format to stdout.
pub fn print_reports(reports: &[Report], format: Format) -> anyhow::Result<()> {
    use std::io::Write;
    let bytes = format.exporter().serialize(reports)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}
