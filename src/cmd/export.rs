//! `shinpan export`: a run's judged items for human review.

use anyhow::Context;

use crate::cli::ExportArgs;
use crate::review::{collect, render};

pub fn export(a: ExportArgs) -> anyhow::Result<()> {
    let records = collect(&a.run, a.questions.as_deref(), a.only)?;
    let bytes = render(&records, a.format)?;
    match &a.out {
        Some(path) => {
            crate::store::write_atomic(path, &bytes).with_context(|| path.display().to_string())?;
            eprintln!(
                "shinpan: {} item(s) exported to {}",
                records.len(),
                path.display()
            );
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(())
}
