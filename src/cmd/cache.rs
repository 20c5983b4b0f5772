//! `shinpan cache info` and `shinpan cache prune`.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{CacheArgs, CacheCommand, MergeArgs, PruneArgs};
use crate::client::{Cache, PruneFilter};
use crate::config::{UsageError, cache_path};
use crate::report::Format;
use crate::report::markup::table;

pub fn cache(c: CacheCommand) -> anyhow::Result<()> {
    match c {
        CacheCommand::Info(a) => info(a),
        CacheCommand::Prune(a) => prune(a),
        CacheCommand::Merge(a) => merge(a),
    }
}

fn merge(a: MergeArgs) -> anyhow::Result<()> {
    let Some(path) = cache_path(a.cache.as_deref(), None) else {
        return Err(UsageError(
            "no cache file: give --cache FILE or set SHINPAN_CACHE (HOME is not set)".into(),
        )
        .into());
    };
    // Every source is checked before anything is added.
    for s in &a.sources {
        if !s.is_file() {
            return Err(UsageError(format!("{}: no such cache file", s.display())).into());
        }
        Cache::open(s).map_err(|e| UsageError(e.to_string()))?;
    }
    let target = Cache::open(&path).map_err(|e| UsageError(e.to_string()))?;
    for s in &a.sources {
        let added = target.merge_from(s)?;
        eprintln!(
            "shinpan: added {added} response(s) from {} to {}",
            s.display(),
            path.display()
        );
    }
    Ok(())
}

/// Opens an existing cache; `None` (after saying so) when there is none yet, since
/// inspecting must not create one.
fn open(flag: Option<PathBuf>) -> anyhow::Result<Option<Cache>> {
    let Some(path) = cache_path(flag.as_deref(), None) else {
        return Err(UsageError(
            "no cache file: give --cache FILE or set SHINPAN_CACHE (HOME is not set)".into(),
        )
        .into());
    };
    if !path.exists() {
        eprintln!("shinpan: no response cache at {} yet", path.display());
        return Ok(None);
    }
    Cache::open(&path)
        .map(Some)
        .map_err(|e| UsageError(e.to_string()).into())
}

fn info(a: CacheArgs) -> anyhow::Result<()> {
    let Some(cache) = open(a.cache)? else {
        return Ok(());
    };
    let info = cache.info()?;
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&info)?),
        Format::Md | Format::Table => {
            let rows = info
                .models
                .iter()
                .map(|(m, n)| vec![m.clone(), n.to_string()])
                .collect();
            let t = table(
                format!(
                    "Response cache {}: {} responses, {:.1} MiB on disk",
                    info.path.display(),
                    info.entries,
                    info.bytes as f64 / (1024.0 * 1024.0)
                ),
                vec!["model", "responses"],
                rows,
                "",
            );
            let text = if a.format == Format::Md {
                crate::report::markdown::document("shinpan cache", &[t])
            } else {
                crate::report::table::render(&[t])
            };
            print!("{text}");
        }
    }
    Ok(())
}

fn prune(a: PruneArgs) -> anyhow::Result<()> {
    if !a.all && a.unused_for.is_none() && a.model.is_none() {
        return Err(UsageError(
            "cache prune needs --unused-for AGE, --model MODEL or --all".into(),
        )
        .into());
    }
    let unused_for = a
        .unused_for
        .as_deref()
        .map(|s| parse_age(s).map_err(|e| UsageError(format!("--unused-for {s:?}: {e}"))))
        .transpose()?;
    let Some(cache) = open(a.cache)? else {
        return Ok(());
    };
    let before = cache.info()?;
    let deleted = cache.prune(&PruneFilter {
        unused_for,
        model: a.model,
        all: a.all,
    })?;
    let after = cache.info()?;
    eprintln!(
        "shinpan: deleted {deleted} of {} cached responses; {} now {:.1} MiB (was {:.1} MiB)",
        before.entries,
        after.path.display(),
        after.bytes as f64 / (1024.0 * 1024.0),
        before.bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// `30d`, `12h`, `90m`, `45s`.
fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("needs a unit: d, h, m or s")?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| "expected a number then a unit, e.g. 30d")?;
    let secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("unknown unit {unit:?} (d, h, m or s)")),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(5_400));
        assert!(parse_age("30").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("3w").is_err());
    }
}
