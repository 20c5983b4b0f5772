//! `shinpan board`.

use crate::aggregate::{build_reports, load_runs};
use crate::board::{build, csv, preset, preset_table, table};
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
    let mut b = build(&runs)?;
    if let Some(p) = &a.preset {
        b.preset = Some(preset(p, &runs)?);
    }
    let mut tables = vec![table(&b)];
    tables.extend(b.preset.as_ref().map(preset_table));
    match a.format {
        BoardFormat::Json => println!("{}", serde_json::to_string_pretty(&b)?),
        BoardFormat::Csv if b.preset.is_some() => {
            return Err(crate::error::UsageError(
                "--format csv writes the cells only; give --format json for the preset too".into(),
            )
            .into());
        }
        BoardFormat::Csv => print!("{}", csv(&b)?),
        BoardFormat::Html => print!("{}", crate::board::html(&b)),
        BoardFormat::Table => print!("{}", crate::report::table::render(&tables)),
        BoardFormat::Md => print!(
            "{}",
            crate::report::markdown::document("shinpan board", &tables)
        ),
    }
    Ok(())
}
