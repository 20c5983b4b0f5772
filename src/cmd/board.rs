//! `shinpan board`.

use crate::aggregate::{build_reports, load_runs};
use crate::board::file::{BoardFile, categories, own_table};
use crate::board::{build, csv, preset, preset_table, table};
use crate::cli::{BoardArgs, BoardFormat};

pub fn board(a: BoardArgs) -> anyhow::Result<()> {
    let opts = a.stats.options(false);
    // One board file (`*.toml`) names the runs and the categories; else the runs are given.
    let file = match a.paths.as_slice() {
        [p] if p.extension().is_some_and(|x| x == "toml") => Some((p.clone(), BoardFile::read(p)?)),
        _ => None,
    };
    let paths = file
        .as_ref()
        .map_or(a.paths.clone(), |(_, f)| f.runs.clone());
    let mut runs = Vec::new();
    for path in &paths {
        for (run, loaded) in load_runs(std::slice::from_ref(path))? {
            let source = run.as_deref().unwrap_or(path).display().to_string();
            let reports = build_reports(&loaded, None, None, &opts)
                .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
            runs.push((source, reports));
        }
    }
    let mut b = build(&runs)?;
    let preset_name = a
        .preset
        .clone()
        .or_else(|| file.as_ref().and_then(|(_, f)| f.preset.clone()));
    if let Some(p) = &preset_name {
        b.preset = Some(preset(p, &runs)?);
    }
    if let Some((path, f)) = &file
        && !f.categories.is_empty()
    {
        b.own = Some(categories(path, &f.categories, &b)?);
    }
    let mut tables = vec![table(&b)];
    tables.extend(b.preset.as_ref().map(preset_table));
    if let (Some(o), Some((_, f))) = (&b.own, &file) {
        tables.push(own_table(o, &f.categories));
    }
    match a.format {
        BoardFormat::Json => println!("{}", serde_json::to_string_pretty(&b)?),
        BoardFormat::Csv if b.preset.is_some() || b.own.is_some() => {
            return Err(crate::error::UsageError(
                "--format csv writes the cells only; give --format json for the preset and categories too".into(),
            )
            .into());
        }
        BoardFormat::Csv => print!("{}", csv(&b)?),
        BoardFormat::Html => print!("{}", crate::board::html(&b, &tables[1..])),
        BoardFormat::Table => print!("{}", crate::report::table::render(&tables)),
        BoardFormat::Md => print!(
            "{}",
            crate::report::markdown::document("shinpan board", &tables)
        ),
    }
    Ok(())
}
