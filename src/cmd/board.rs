//! `shinpan board`.

use crate::aggregate::{build_reports, load_runs};
use crate::board::{build, csv, table};
use crate::cli::{BoardArgs, BoardFormat};

pub fn board(a: BoardArgs) -> anyhow::Result<()> {
    let opts = a.stats.options(false);
    let mut runs = Vec::new();
    for path in &a.paths {
        for (run, loaded) in load_runs(std::slice::from_ref(path))? {
            let source = run.as_deref().unwrap_or(path).display().to_string();
            let reports = build_reports(&loaded, None, None, &opts)
                .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
            runs.push((source, reports));
        }
    }
    let b = build(&runs)?;
    match a.format {
        BoardFormat::Json => println!("{}", serde_json::to_string_pretty(&b)?),
        BoardFormat::Csv => print!("{}", csv(&b)?),
        BoardFormat::Table => print!("{}", crate::report::table::render(&[table(&b)])),
        BoardFormat::Md => print!(
            "{}",
            crate::report::markdown::document("shinpan board", &[table(&b)])
        ),
    }
    Ok(())
}
