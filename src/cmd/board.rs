//! `shinpan board`.

use std::path::{Path, PathBuf};

use crate::aggregate::{Report, StatsOptions, build_reports, load_runs};
use crate::board::file::{BoardFile, categories, own_table};
use crate::board::history::{Night, history};
use crate::board::{Board, build, csv, preset, preset_table, table};
use crate::cli::{BoardArgs, BoardFormat};
use crate::error::UsageError;

/// Each run under `path` with its reports, named by its directory.
fn load(path: &Path, opts: &StatsOptions) -> anyhow::Result<Vec<(PathBuf, String, Vec<Report>)>> {
    let mut runs = Vec::new();
    for (run, loaded) in load_runs(&[path.to_path_buf()])? {
        let dir = run.clone().unwrap_or_else(|| path.to_path_buf());
        let source = dir.display().to_string();
        let reports = build_reports(&loaded, None, None, opts)
            .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        runs.push((dir, source, reports));
    }
    Ok(runs)
}

/// The board of `runs`, with the preset's and the board file's figures when asked.
fn assemble(
    runs: &[(String, Vec<Report>)],
    preset_name: Option<&str>,
    file: Option<&(PathBuf, BoardFile)>,
) -> anyhow::Result<Board> {
    let mut b = build(runs)?;
    if let Some(p) = preset_name {
        b.preset = Some(preset(p, runs)?);
    }
    if let Some((path, f)) = file
        && !f.categories.is_empty()
    {
        b.own = Some(categories(path, &f.categories, &b)?);
    }
    Ok(b)
}

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
    let preset_name = a
        .preset
        .clone()
        .or_else(|| file.as_ref().and_then(|(_, f)| f.preset.clone()));
    if a.history {
        return board_history(&a, &paths, preset_name.as_deref(), file.as_ref(), &opts);
    }
    let mut runs = Vec::new();
    for path in &paths {
        runs.extend(load(path, &opts)?.into_iter().map(|(_, s, r)| (s, r)));
    }
    let b = assemble(&runs, preset_name.as_deref(), file.as_ref())?;
    let mut tables = vec![table(&b)];
    tables.extend(b.preset.as_ref().map(preset_table));
    if let (Some(o), Some((_, f))) = (&b.own, &file) {
        tables.push(own_table(o, &f.categories));
    }
    match a.format {
        BoardFormat::Json => println!("{}", serde_json::to_string_pretty(&b)?),
        BoardFormat::Csv if b.preset.is_some() || b.own.is_some() => {
            return Err(UsageError(
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

/// `board --history`: each path a recurring run's directory; the runs of each night (the
/// first directory under it) across them make that night's board.
fn board_history(
    a: &BoardArgs,
    outs: &[PathBuf],
    preset_name: Option<&str>,
    file: Option<&(PathBuf, BoardFile)>,
    opts: &StatsOptions,
) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    let mut nights: BTreeMap<String, Vec<(String, Vec<Report>)>> = BTreeMap::new();
    for out in outs {
        if !out.is_dir() {
            return Err(UsageError(format!(
                "{}: --history takes a recurring run's directory (OUT/<night>/ under it)",
                out.display()
            ))
            .into());
        }
        // Each directory under OUT is a night (the history file beside them is not a run).
        let mut children: Vec<PathBuf> = std::fs::read_dir(out)
            .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        children.sort();
        let mut found = 0;
        for child in children {
            let Some(night) = child
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            for (_, source, reports) in load(&child, opts)? {
                if reports.is_empty() {
                    continue;
                }
                found += 1;
                nights
                    .entry(night.clone())
                    .or_default()
                    .push((source, reports));
            }
        }
        if found == 0 {
            return Err(UsageError(format!(
                "{}: no nightly runs under it (a config's [nightly] run writes OUT/<night>/)",
                out.display()
            ))
            .into());
        }
    }
    let mut boards = Vec::new();
    for (night, runs) in nights {
        let board = assemble(&runs, preset_name, file)
            .map_err(|e| anyhow::anyhow!("night {night}: {e}"))?;
        boards.push(Night { night, board });
    }
    let h = history(boards);
    let tables = crate::board::history::tables(&h);
    match a.format {
        BoardFormat::Json => println!("{}", serde_json::to_string_pretty(&h)?),
        BoardFormat::Csv => print!("{}", crate::board::history::csv(&h)?),
        BoardFormat::Html => print!("{}", crate::board::history::html(&h)),
        BoardFormat::Table => print!("{}", crate::report::table::render(&tables)),
        BoardFormat::Md => print!(
            "{}",
            crate::report::markdown::document("shinpan board history", &tables)
        ),
    }
    Ok(())
}
