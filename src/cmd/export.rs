//! `shinpan export`: a run's judged items for human review.

use anyhow::Context;

use crate::cli::ExportArgs;
use crate::review::{collect, render};

pub fn export(a: ExportArgs) -> anyhow::Result<()> {
    let mut records = collect(&a.run, a.questions.as_deref(), a.only)?;
    // A file reviewers filled in is never replaced by an empty export: what they wrote goes
    // into the new one (Markdown holds no labels: it is a view).
    let kept = match &a.out {
        Some(path) if path.exists() && a.format != crate::review::ReviewFormat::Md => {
            crate::review::carry_over(path, &mut records)?.kept
        }
        _ => 0,
    };
    let bytes = render(&records, a.format)?;
    match &a.out {
        Some(path) => {
            crate::store::write_atomic(path, &bytes).with_context(|| path.display().to_string())?;
            let carried = if kept > 0 {
                format!(" (the {kept} label(s) and comment(s) it held kept)")
            } else {
                String::new()
            };
            eprintln!(
                "shinpan: {} item(s) exported to {}{carried}",
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
