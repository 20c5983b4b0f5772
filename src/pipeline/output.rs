//! The run's reports on disk and on stdout.

use anyhow::Context;

use crate::aggregate::Report;
use crate::records::RunDir;
use crate::report::{Exporter, Format, JsonExporter, MarkdownExporter};
use crate::store::write_atomic;

/// Writes `report-<mode>.md` and `report-<mode>.json` into the run directory.
pub fn write_reports(out: &std::path::Path, reports: &[Report]) -> anyhow::Result<()> {
    let dir = RunDir::new(out);
    for r in reports {
        for (ext, bytes) in [
            ("md", MarkdownExporter.serialize(std::slice::from_ref(r))?),
            ("json", JsonExporter.serialize(std::slice::from_ref(r))?),
        ] {
            let p = dir.report(r.mode, ext);
            write_atomic(&p, &bytes).with_context(|| p.display().to_string())?;
        }
    }
    Ok(())
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
