//! `shinpan history`: a recurring run's figures over time.

use crate::cli::HistoryArgs;
use crate::error::usage;
use crate::nightly::series;
use crate::records::read_history;

pub fn history(a: HistoryArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let path = if a.path.is_dir() {
        a.path.join("history.jsonl")
    } else if a.path.is_file() {
        super::nightly::history_of(&a.path)?
    } else {
        return Ok(usage(format!(
            "{}: no such config file or directory",
            a.path.display()
        ))?);
    };
    if !path.is_file() {
        return Ok(usage(format!(
            "{}: no history yet (a config with a [nightly] table writes it on each run)",
            path.display()
        ))?);
    }
    let lines = read_history(&path)?;
    let all = series(lines, a.model.as_deref());
    if all.is_empty() {
        return Ok(usage(format!(
            "{}: no line for model {:?}",
            path.display(),
            a.model.as_deref().unwrap_or("")
        ))?);
    }
    let bytes = crate::report::history::render_history(&all, a.format, a.model.is_some())?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    Ok(out.flush()?)
}
