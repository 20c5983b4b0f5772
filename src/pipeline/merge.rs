//! `shinpan merge`: the directories of a sharded run (`--shard I/N`) become one run
//! directory, the same as if one machine had run every question: the same answer, judgment
//! and journal records, the questions back in file order, the manifest's evaluations whole
//! (their spend summed), and the reports and page built from the merged files, so they are
//! byte for byte an unsharded run's.
//!
//! Everything is checked before anything is written: every shard present once, each one
//! finished or interrupted (not still running), the same evaluations in each, and no item
//! held by two shards with different records. The result is built in a temporary directory
//! beside `--out` and renamed into place, so a failed merge leaves nothing half-written.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use crate::aggregate::{StatsOptions, build_reports, load_judgments};
use crate::client::{Cache, add_rows};
use crate::error::UsageError;
use crate::records::{Evaluation, Expected, Manifest, RunDir, RunState};
use crate::store::write_atomic;
use crate::types::Shard;

/// What a merge made.
#[derive(Debug, Default)]
pub struct Merged {
    /// The shards joined.
    pub shards: u32,
    /// Questions in the merged run.
    pub questions: usize,
    /// Answer records.
    pub answers: usize,
    /// Current judgment records.
    pub judgments: usize,
    /// Responses the shards' caches added to the merged cache (`None`: no shard had one).
    pub cached: Option<u64>,
    /// Entries of the shard directories that were not merged (other files), for a note.
    pub skipped: Vec<PathBuf>,
}

/// The files of a run directory that merge rebuilds or leaves behind rather than copies.
const REBUILT: [&str; 3] = [
    crate::records::layout::MANIFEST,
    "report.html",
    ".shinpan.lock",
];

/// Merges the shard directories `dirs` into a new run directory `out`.
pub fn merge(dirs: &[PathBuf], out: &Path, stats: &StatsOptions) -> anyhow::Result<Merged> {
    let shards = read_shards(dirs)?;
    let count = shards[0].shard.count;
    refuse_existing(out)?;
    let manifest = merged_manifest(&shards)?;
    let order = question_order(&manifest);
    let tmp = temp_beside(out)?;
    let result = (|| {
        let merged = Merged {
            shards: count,
            questions: order.len(),
            ..write_files(&shards, &tmp, &order)?
        };
        let mut bytes = serde_json::to_vec_pretty(&manifest)?;
        bytes.push(b'\n');
        let m = RunDir::new(&tmp).manifest();
        write_atomic(&m, &bytes).with_context(|| m.display().to_string())?;
        write_reports(&tmp, stats)?;
        std::fs::rename(&tmp, out)
            .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
        Ok(merged)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// One shard's directory and manifest.
struct ShardDir {
    dir: PathBuf,
    shard: Shard,
    manifest: Manifest,
}

/// Reads and checks the shards: each a run directory of one shard, every shard of one
/// split present once, none still running. Sorted by index.
fn read_shards(dirs: &[PathBuf]) -> anyhow::Result<Vec<ShardDir>> {
    let mut shards = Vec::new();
    for dir in dirs {
        let run = RunDir::new(dir);
        if !run.manifest().is_file() {
            return Err(UsageError(format!(
                "{}: not a run directory (no {})",
                dir.display(),
                crate::records::layout::MANIFEST
            ))
            .into());
        }
        let manifest = Manifest::read(&run.manifest())?;
        let Some(first) = manifest.evaluations.first() else {
            return Err(UsageError(format!("{}: holds no evaluation", dir.display())).into());
        };
        let Some(shard) = first.shard else {
            return Err(UsageError(format!(
                "{}: not a shard (run without --shard); merge joins the directories of one --shard I/N run",
                dir.display()
            ))
            .into());
        };
        if let Some(e) = manifest
            .evaluations
            .iter()
            .find(|e| e.state == RunState::Running)
        {
            return Err(UsageError(format!(
                "{}: shard {shard} has not finished {} (still running, or killed: run it again to finish it)",
                dir.display(),
                e.judgments
            ))
            .into());
        }
        shards.push(ShardDir {
            dir: dir.clone(),
            shard,
            manifest,
        });
    }
    shards.sort_by_key(|s| s.shard.index);
    let count = shards[0].shard.count;
    if let Some(s) = shards.iter().find(|s| s.shard.count != count) {
        return Err(UsageError(format!(
            "{}: shard {} is of a split into {}, and {} of a split into {count}",
            s.dir.display(),
            s.shard,
            s.shard.count,
            shards[0].dir.display()
        ))
        .into());
    }
    for pair in shards.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            return Err(UsageError(format!(
                "{} and {} are both shard {}",
                pair[0].dir.display(),
                pair[1].dir.display(),
                pair[0].shard
            ))
            .into());
        }
    }
    if shards.len() != count as usize {
        let have: Vec<u32> = shards.iter().map(|s| s.shard.index).collect();
        let missing: Vec<String> = (0..count)
            .filter(|i| !have.contains(i))
            .map(|i| format!("{i}/{count}"))
            .collect();
        return Err(UsageError(format!(
            "missing shard {}: merge needs every shard of the split",
            missing.join(", ")
        ))
        .into());
    }
    Ok(shards)
}

fn refuse_existing(out: &Path) -> anyhow::Result<()> {
    let empty = match std::fs::read_dir(out) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow::Error::from(e).context(out.display().to_string())),
    };
    if empty {
        std::fs::remove_dir(out).with_context(|| out.display().to_string())?;
        return Ok(());
    }
    Err(UsageError(format!(
        "{}: already exists and is not empty; --out must be a new directory",
        out.display()
    ))
    .into())
}

fn temp_beside(out: &Path) -> anyhow::Result<PathBuf> {
    let name = out
        .file_name()
        .ok_or_else(|| UsageError(format!("{}: not a directory name", out.display())))?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = parent.unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    let prefix = format!(".{}.merging-", name.to_string_lossy());
    // Merges killed before their rename left their temporary directories: those of
    // processes no longer running go.
    if let Ok(entries) = std::fs::read_dir(parent) {
        for e in entries.flatten() {
            let file = e.file_name();
            let pid = file.to_str().and_then(|f| f.strip_prefix(&prefix));
            if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok())
                && !process_alive(pid)
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let tmp = parent.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).with_context(|| tmp.display().to_string())?;
    Ok(tmp)
}

/// Whether a process with this id is running (on Linux, by `/proc`; elsewhere assumed so, and
/// its directory is left).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Puts the shards' lists back in file order: the shard of question `k` is `k mod N`, and its
/// place in that shard `k div N`.
fn interleave<T: Clone>(lists: &[&[T]], what: &str) -> Result<Vec<T>, UsageError> {
    let n = lists.len();
    let total: usize = lists.iter().map(|l| l.len()).sum();
    for (i, l) in lists.iter().enumerate() {
        let expected = (total + n - 1 - i) / n;
        if l.len() != expected {
            return Err(UsageError(format!(
                "{what}: shard {i}/{n} holds {} questions, and a split of {total} questions into {n} gives it {expected}; were the shards run on the same question file?",
                l.len()
            )));
        }
    }
    Ok((0..total).map(|k| lists[k % n][k / n].clone()).collect())
}

/// The shards' manifests as one: each evaluation's questions in file order, its spend
/// summed, finished only when every shard finished it.
fn merged_manifest(shards: &[ShardDir]) -> anyhow::Result<Manifest> {
    let first = &shards[0];
    let mut evaluations = Vec::new();
    for e in &first.manifest.evaluations {
        let mut parts: Vec<&Evaluation> = vec![e];
        for s in &shards[1..] {
            let Some(other) = s.manifest.entry(&e.judgments) else {
                return Err(UsageError(format!(
                    "{}: shard {} has no {} (shard {} has); run every shard with the same settings",
                    s.dir.display(),
                    s.shard,
                    e.judgments,
                    first.shard
                ))
                .into());
            };
            let same = other.mode == e.mode
                && other.judge == e.judge
                && other.models == e.models
                && other.baseline == e.baseline
                && other.samples == e.samples
                && other.aspects == e.aspects
                && other.set == e.set;
            if !same {
                return Err(UsageError(format!(
                    "{}: {} was run with other settings than in {} (question set, mode, judge, models, baseline, samples or aspects)",
                    s.dir.display(),
                    e.judgments,
                    first.dir.display()
                ))
                .into());
            }
            parts.push(other);
        }
        let lists: Vec<&[Expected]> = parts.iter().map(|p| p.questions.as_slice()).collect();
        let questions = interleave(&lists, &e.judgments)?;
        let mut spend = Vec::new();
        for p in &parts {
            add_rows(&mut spend, &p.spend);
        }
        let state = if parts.iter().all(|p| p.state == RunState::Finished) {
            RunState::Finished
        } else {
            RunState::Interrupted
        };
        let stopped = parts.iter().find_map(|p| p.stopped.clone());
        evaluations.push(Evaluation {
            questions,
            spend,
            state,
            shard: None,
            stopped,
            ..e.clone()
        });
    }
    for s in &shards[1..] {
        if let Some(e) = s
            .manifest
            .evaluations
            .iter()
            .find(|e| first.manifest.entry(&e.judgments).is_none())
        {
            return Err(UsageError(format!(
                "{}: shard {} has {}, which shard {} has not; run every shard with the same settings",
                s.dir.display(),
                s.shard,
                e.judgments,
                first.shard
            ))
            .into());
        }
    }
    Ok(Manifest { evaluations })
}

/// Each question's place in file order (by id as written), from the manifest.
fn question_order(m: &Manifest) -> HashMap<String, usize> {
    let longest = m
        .evaluations
        .iter()
        .max_by_key(|e| e.questions.len())
        .map(|e| e.questions.as_slice())
        .unwrap_or_default();
    longest
        .iter()
        .enumerate()
        .map(|(i, q)| (q.id.to_string(), i))
        .collect()
}

/// A record's line and its question's place in file order.
struct Line {
    place: usize,
    text: String,
}

/// Copies the shards' record files into `out`, merged.
fn write_files(
    shards: &[ShardDir],
    out: &Path,
    order: &HashMap<String, usize>,
) -> anyhow::Result<Merged> {
    let mut merged = Merged::default();
    let dirs: Vec<&Path> = shards.iter().map(|s| s.dir.as_path()).collect();
    // The questions as judged: interleaved back into file order.
    let lists = shards
        .iter()
        .map(|s| read_lines(&RunDir::new(&s.dir).questions()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if lists.iter().any(|l| !l.is_empty()) {
        let slices: Vec<&[String]> = lists.iter().map(Vec::as_slice).collect();
        let lines = interleave(&slices, "questions.jsonl")?;
        write_lines(&RunDir::new(out).questions(), &lines)?;
    }
    merged.answers = merge_keyed(&dirs, out, "answers", order, answer_key)?;
    merged.judgments = merge_keyed(&dirs, out, "judgments", order, judgment_key)?;
    concatenate(&dirs, out, crate::records::layout::JOURNAL_DIR)?;
    concatenate_file(&dirs, out, "errors.jsonl")?;
    merged.cached = merge_caches(&dirs, out)?;
    for d in &dirs {
        for entry in std::fs::read_dir(d).with_context(|| d.display().to_string())? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            let known = ["answers", "judgments", crate::records::layout::JOURNAL_DIR]
                .contains(&name.as_ref())
                || ["questions.jsonl", "errors.jsonl", "cache.sqlite"].contains(&name.as_ref())
                || name.starts_with("cache.sqlite-")
                || REBUILT.contains(&name.as_ref())
                || name == crate::records::layout::BATCHES_DIR
                || (name.starts_with("report-")
                    && (name.ends_with(".md") || name.ends_with(".json")));
            if !known {
                merged.skipped.push(d.join(name.as_ref()));
            }
        }
    }
    Ok(merged)
}

fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(anyhow::Error::from(e).context(path.display().to_string())),
    }
}

fn write_lines(path: &Path, lines: &[String]) -> anyhow::Result<()> {
    let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        bytes.extend_from_slice(l.as_bytes());
        bytes.push(b'\n');
    }
    write_atomic(path, &bytes).with_context(|| path.display().to_string())
}

/// The `.jsonl` files of `sub` in every shard, by name.
fn files_in(dirs: &[&Path], sub: &str) -> anyhow::Result<BTreeMap<String, Vec<PathBuf>>> {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for d in dirs {
        let dir = d.join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.with_context(|| dir.display().to_string())?.path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                let name = path
                    .file_name()
                    .expect("listed")
                    .to_string_lossy()
                    .to_string();
                files.entry(name).or_default().push(path);
            }
        }
    }
    Ok(files)
}

fn id_text(v: &Value, field: &str) -> String {
    match v.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// An answer record's item: its question (one answer per question and model file).
fn answer_key(v: &Value) -> String {
    id_text(v, "question_id")
}

/// A judgment record's item: judge, models, question, turn and sample.
fn judgment_key(v: &Value) -> String {
    [
        v.get("judge").map(Value::to_string).unwrap_or_default(),
        id_text(v, "model"),
        id_text(v, "model_1"),
        id_text(v, "model_2"),
        id_text(v, "question_id"),
        id_text(v, "turn"),
        id_text(v, "sample"),
    ]
    .join("\u{1f}")
}

/// Merges the files of `sub` (answers, current judgments): each item once, in question
/// order. An item two shards both hold is kept once if the records agree and refused if they
/// differ (overlapping shards, or a directory given twice under two names).
fn merge_keyed(
    dirs: &[&Path],
    out: &Path,
    sub: &str,
    order: &HashMap<String, usize>,
    key_of: fn(&Value) -> String,
) -> anyhow::Result<usize> {
    let mut total = 0;
    for (name, paths) in files_in(dirs, sub)? {
        let mut lines: Vec<Line> = Vec::new();
        let mut seen: HashMap<String, (usize, PathBuf)> = HashMap::new();
        for path in paths {
            for (n, text) in read_lines(&path)?.into_iter().enumerate() {
                let v: Value = serde_json::from_str(&text).map_err(|e| {
                    UsageError(format!(
                        "{}:{}: not a JSON record: {e}",
                        path.display(),
                        n + 1
                    ))
                })?;
                let key = key_of(&v);
                if let Some((i, first)) = seen.get(&key) {
                    if without_time(&serde_json::from_str(&lines[*i].text)?) != without_time(&v) {
                        return Err(UsageError(format!(
                            "{}:{} and {} hold different records of one item ({}); shards must not overlap",
                            path.display(),
                            n + 1,
                            first.display(),
                            key.replace('\u{1f}', " ")
                        ))
                        .into());
                    }
                    continue;
                }
                let place = order
                    .get(&id_text(&v, "question_id"))
                    .copied()
                    .unwrap_or(usize::MAX);
                seen.insert(key, (lines.len(), path.clone()));
                lines.push(Line { place, text });
            }
        }
        // Stable: records of one question keep their shard's order.
        lines.sort_by_key(|l| l.place);
        total += lines.len();
        let texts: Vec<String> = lines.into_iter().map(|l| l.text).collect();
        write_lines(&out.join(sub).join(&name), &texts)?;
    }
    Ok(total)
}

/// A record less its time stamp and answer id (two identical answers made twice differ there).
fn without_time(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("tstamp");
        o.remove("answer_id");
    }
    v
}

/// Journals: every judgment ever made, shard after shard.
fn concatenate(dirs: &[&Path], out: &Path, sub: &str) -> anyhow::Result<()> {
    for (name, paths) in files_in(dirs, sub)? {
        let mut lines = Vec::new();
        for p in paths {
            lines.extend(read_lines(&p)?);
        }
        write_lines(&out.join(sub).join(name), &lines)?;
    }
    Ok(())
}

fn concatenate_file(dirs: &[&Path], out: &Path, name: &str) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    for d in dirs {
        lines.extend(read_lines(&d.join(name))?);
    }
    if !lines.is_empty() {
        write_lines(&out.join(name), &lines)?;
    }
    Ok(())
}

/// A cache kept in a shard's directory (`--cache OUT/cache.sqlite`) joins the merged one.
fn merge_caches(dirs: &[&Path], out: &Path) -> anyhow::Result<Option<u64>> {
    let sources: Vec<PathBuf> = dirs
        .iter()
        .map(|d| d.join("cache.sqlite"))
        .filter(|p| p.is_file())
        .collect();
    if sources.is_empty() {
        return Ok(None);
    }
    let cache = Cache::open(&out.join("cache.sqlite"))?;
    let mut added = 0;
    for s in &sources {
        added += cache.merge_from(s)?;
    }
    Ok(Some(added))
}

/// The reports and the page, built from the merged files as `shinpan report` builds them.
fn write_reports(dir: &Path, stats: &StatsOptions) -> anyhow::Result<()> {
    let loaded = load_judgments(&[dir.to_path_buf()])?;
    let reports = build_reports(&loaded, None, None, stats)?;
    super::write_reports(dir, &reports)?;
    super::write_page(dir, stats, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_interleave_back_into_file_order() {
        let all: Vec<u32> = (0..10).collect();
        let shards: Vec<Vec<u32>> = (0..3)
            .map(|i| all.iter().copied().filter(|k| k % 3 == i).collect())
            .collect();
        let lists: Vec<&[u32]> = shards.iter().map(Vec::as_slice).collect();
        assert_eq!(interleave(&lists, "q").unwrap(), all);
        // A shard one question short is not a split of the total.
        let short: Vec<&[u32]> = vec![&shards[0], &shards[1], &shards[2][..2]];
        let e = interleave(&short, "q").unwrap_err().to_string();
        assert!(e.contains("shard 0/3 holds 4 questions"), "{e}");
    }
}
