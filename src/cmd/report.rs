//! `shinpan report`.

use crate::aggregate::{build_reports, load_runs};
use crate::cli::ReportArgs;
use crate::config::parse_mode;
use crate::pipeline::print_reports;
use crate::report::{Exporter, Format, HtmlExporter, ReportFormat};
use std::io::Write;

pub fn report(a: ReportArgs) -> anyhow::Result<()> {
    let mode = a
        .mode
        .as_deref()
        .map(|m| parse_mode(m, "--mode"))
        .transpose()?;
    let opts = a.stats.options(a.errors_as_ties);
    // Each run directory is its own run: two runs of the same items are shown side by side,
    // never merged into one (the later superseding the earlier).
    let groups = load_runs(&a.paths)?;
    let several = groups.len() > 1;
    let mut reports = Vec::new();
    for (run, loaded) in &groups {
        for (path, what) in &loaded.other {
            eprintln!(
                "shinpan: note: {} holds {what}, not judgments; not counted",
                path.display()
            );
        }
        let built = match build_reports(loaded, a.baseline.as_deref(), mode, &opts) {
            Ok(r) => r,
            // A run directory without judgments among others is said, not fatal.
            Err(e) if several => {
                let what = run
                    .as_ref()
                    .map_or("the files given".into(), |r| r.display().to_string());
                eprintln!("shinpan: note: {what}: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        warn_mixed_versions(&built);
        for mut r in built {
            if several {
                r.run = Some(match run {
                    Some(d) => d.display().to_string(),
                    None => "files".to_string(),
                });
            }
            reports.push(r);
        }
    }
    if reports.is_empty() {
        return Err(crate::error::UsageError(
            "no judgment records found (expected FastChat single or pair judgment files)".into(),
        )
        .into());
    }
    let format = match a.format {
        ReportFormat::Table => Format::Table,
        ReportFormat::Md => Format::Md,
        ReportFormat::Json => Format::Json,
        ReportFormat::Html => {
            let page = HtmlExporter {
                items: run_items(&a.paths, &groups),
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

/// The judged items of the run directories found and of the directories given that hold
/// `judgments/`, for the page to browse (each marked with its run when there are several).
fn run_items(
    paths: &[std::path::PathBuf],
    groups: &[(Option<std::path::PathBuf>, crate::aggregate::Loaded)],
) -> Vec<crate::review::ReviewRecord> {
    let runs: Vec<&std::path::PathBuf> = groups.iter().filter_map(|(r, _)| r.as_ref()).collect();
    let mut sources: Vec<&std::path::PathBuf> = runs.clone();
    for p in paths.iter().filter(|p| p.join("judgments").is_dir()) {
        if !sources.contains(&p) {
            sources.push(p);
        }
    }
    let mut items = Vec::new();
    for p in sources {
        // The label its reports carry (see `report`): its run, or the loose files'.
        let label = (groups.len() > 1).then(|| {
            if runs.contains(&p) {
                p.display().to_string()
            } else {
                "files".to_string()
            }
        });
        match crate::review::items(p, None) {
            Ok(v) => items.extend(v.into_iter().map(|mut it| {
                it.run = label.clone();
                it
            })),
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
            "shinpan: warning: {kind} judgments of {judge} come from {} benchmark sets or versions ({}); they are reported apart",
            versions.len(),
            versions.join(", ")
        );
    }
}
