//! Loading judgment files for `shinpan report`: run directories, FastChat's `model_judgment/`
//! files, ja-vicuna-qa's `pairwise:*.jsonl` files, in any mix. Every `.jsonl` file found is
//! read by the kind its first record shows, or refused with an error naming the file and the
//! line: no file is ever skipped unnoticed.
//!
//! A run directory (one with `run.json`) is read as the run left it: its current judgments
//! (`judgments/`), answers, and what its manifest expected; its journal (every judgment ever
//! made, superseded ones included) is history, not read again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::answers::AnswerIndex;
use super::coverage::Expectation;
use super::{Mode, Report, StatsOptions, summarize_pairs, summarize_single};
use crate::error::UsageError;
use crate::records::layout::{BATCHES_DIR, JOURNAL_DIR, MANIFEST};
use crate::records::{Kind, Manifest, PairGame, RunState, SingleGrade, kind_of};
use crate::store::read_jsonl_into;

/// Judgments read from files.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Single-mode rows.
    pub single: Vec<SingleGrade>,
    /// Pairwise rows.
    pub pair: Vec<PairGame>,
    /// Lengths and languages of the answers and questions found beside them.
    pub answers: AnswerIndex,
    /// What the run directories among the paths expected, by judge and kind of judgment.
    pub expected: BTreeMap<(String, &'static str), Expectation>,
    /// Files recognised but not counted, with what they hold (judge prompts, reference
    /// answers, human votes), for a note.
    pub other: Vec<(PathBuf, &'static str)>,
}

fn bad(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(format!("{}: {e}", path.display())).into()
}

/// Reads every judgment file under the given paths (files, or directories searched
/// recursively for `*.jsonl`), and the answer and question files among them (for length,
/// language and category figures). Reference answers (under a `reference_answer` directory)
/// are not a model's answers and only noted.
pub fn load_judgments(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    load_judgments_as(paths, None)
}

/// [`load_judgments`], reading the run directory `run.0` as if its `run.json` were `run.1`
/// (a run's last stage builds its page before it writes the manifest that says it finished).
pub fn load_judgments_as(
    paths: &[PathBuf],
    run: Option<(&Path, &Manifest)>,
) -> anyhow::Result<Loaded> {
    let (files, runs) = gather(paths)?;
    read_group(files, &runs, run)
}

/// The judgments under `paths`, one [`Loaded`] per run directory found (each run is its own,
/// so two runs of the same items are two runs, never one superseding the other), and one for
/// the files outside any run directory (`None`), in path order.
pub fn load_runs(paths: &[PathBuf]) -> anyhow::Result<Vec<(Option<PathBuf>, Loaded)>> {
    let (files, runs) = gather(paths)?;
    let mut groups: BTreeMap<Option<PathBuf>, Vec<PathBuf>> = BTreeMap::new();
    for r in &runs {
        groups.entry(Some(r.clone())).or_default();
    }
    for f in files {
        // The innermost run directory holding the file.
        let owner = runs
            .iter()
            .filter(|r| f.starts_with(r))
            .max_by_key(|r| r.components().count())
            .cloned();
        groups.entry(owner).or_default().push(f);
    }
    groups
        .into_iter()
        .map(|(run, files)| {
            let runs: Vec<PathBuf> = run.iter().cloned().collect();
            Ok((run, read_group(files, &runs, None)?))
        })
        .collect()
}

/// The files under `paths` (sorted, once each) and the run directories among them.
fn gather(paths: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut runs = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect(p, &mut files, &mut runs).map_err(|e| bad(p, e))?;
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(bad(p, "no such file or directory"));
        }
    }
    files.sort();
    files.dedup();
    runs.sort();
    runs.dedup();
    Ok((files, runs))
}

/// Reads `files`, with what the run directories `runs` expected (`run` standing for one of
/// their manifests).
fn read_group(
    files: Vec<PathBuf>,
    runs: &[PathBuf],
    run: Option<(&Path, &Manifest)>,
) -> anyhow::Result<Loaded> {
    let mut out = Loaded::default();
    for f in files {
        let kind = kind_of(&f).map_err(|e| bad(&f, e))?;
        match kind {
            None => {}
            Some(Kind::Single) => read_jsonl_into(&f, &mut out.single).map_err(|e| bad(&f, e))?,
            Some(Kind::Pair) => read_jsonl_into(&f, &mut out.pair).map_err(|e| bad(&f, e))?,
            Some(Kind::AlpacaPair) => {
                let rows: Vec<crate::records::pair::AlpacaAnnotation> =
                    crate::records::read_array(&f).map_err(|e| bad(&f, e))?;
                out.pair.extend(rows.iter().map(|r| r.game()));
            }
            Some(Kind::ShaberiSingle) => {
                use crate::records::single::{ShaberiFile, ShaberiJudgement};
                let file = ShaberiFile::of(&f);
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    eprintln!(
                        "shinpan: note: Shaberi judgements read by Shaberi's rules: Tengu-Bench questions 61-65 left out, as its tables leave them out; ELYZA-tasks-100 on its own 1-5 scale (Shaberi's tables double it)"
                    )
                });
                crate::store::each_jsonl(&f, |row, r: ShaberiJudgement| {
                    if let Some(g) = r.grade(&file, row) {
                        out.single.push(g);
                    }
                })
                .map_err(|e| bad(&f, e))?;
            }
            Some(Kind::ArenaHardPair) => {
                let mut rows: Vec<crate::records::pair::ArenaHardJudgment> = Vec::new();
                read_jsonl_into(&f, &mut rows).map_err(|e| bad(&f, e))?;
                out.pair.extend(rows.iter().map(|r| r.game()));
            }
            Some(Kind::RakudaPair) => {
                let mut rows: Vec<crate::records::pair::RakudaJudgment> = Vec::new();
                read_jsonl_into(&f, &mut rows).map_err(|e| bad(&f, e))?;
                out.pair.extend(rows.iter().map(|r| r.game()));
            }
            Some(Kind::Answers) => {
                if f.components().any(|c| c.as_os_str() == "reference_answer") {
                    out.other.push((f, "reference answers"));
                } else {
                    out.answers.add_answers(&f).map_err(|e| bad(&f, e))?;
                }
            }
            Some(Kind::Questions) => out.answers.add_questions(&f).map_err(|e| bad(&f, e))?,
            Some(k @ (Kind::Errors | Kind::JudgePrompts | Kind::HumanVotes)) => {
                out.other.push((f, k.describe()))
            }
        }
    }
    for dir in runs {
        let manifest = match run {
            Some((d, m)) if d == dir => m.clone(),
            _ => Manifest::read(&dir.join(MANIFEST)).map_err(|e| UsageError(e.to_string()))?,
        };
        expect(manifest, &mut out.expected);
    }
    Ok(out)
}

/// Adds what a run directory's manifest expects, by judge and kind of judgment file.
fn expect(manifest: Manifest, expected: &mut BTreeMap<(String, &'static str), Expectation>) {
    for e in manifest.evaluations {
        let mut reasons = Vec::new();
        match e.state {
            RunState::Finished => {}
            RunState::Interrupted => reasons.push(format!(
                "the run was {}",
                e.stopped.as_deref().unwrap_or("interrupted (Ctrl-C)")
            )),
            RunState::Running => reasons.push(
                "the run did not finish (still running, or killed); run the same command again to finish it"
                    .into(),
            ),
        }
        let key = (e.judge.clone(), e.mode.file_kind());
        let exp = expected.entry(key).or_default();
        exp.mode = Some(e.mode);
        for m in e.models {
            if !exp.models.contains(&m) {
                exp.models.push(m);
            }
        }
        exp.baseline = exp.baseline.take().or(e.baseline);
        exp.plan = exp.plan.or(e.games);
        exp.bench = exp.bench.take().or(e.bench);
        exp.set = exp.set.take().or(e.set);
        exp.scale = exp.scale.or(e.scale);
        if exp.panel.is_empty() {
            exp.panel = e.panel;
        }
        exp.pool = exp.pool.or(e.pool);
        if exp.aspects.is_empty() {
            exp.aspects = e.aspects;
        }
        for q in e.questions {
            let id = q.id.to_string();
            if !exp.questions.iter().any(|(x, _)| *x == id) {
                exp.questions.push((id, q.turns));
            }
        }
        for r in reasons {
            if !exp.reasons.contains(&r) {
                exp.reasons.push(r);
            }
        }
        crate::records::spend::add_rows(&mut exp.spend, &e.spend);
    }
}

/// Collects `*.jsonl` files below `dir`. A run directory contributes its current files and
/// is remembered for its manifest; its journal is left out (its records are in the
/// current judgment files already, superseded ones removed), and so are its batches' files
/// (requests and raw results of `--batch`, whose answers and verdicts are in the records).
fn collect(dir: &Path, out: &mut Vec<PathBuf>, runs: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let is_run = dir.join(MANIFEST).is_file();
    if is_run {
        runs.push(dir.to_path_buf());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if is_run
                && path
                    .file_name()
                    .is_some_and(|n| n == JOURNAL_DIR || n == BATCHES_DIR)
            {
                continue;
            }
            collect(&path, out, runs)?;
        } else if path.extension().is_some_and(|e| e == "jsonl")
            || path.file_name().is_some_and(|n| n == "annotations.json")
            || (path.extension().is_some_and(|e| e == "json")
                && path.components().any(|c| c.as_os_str() == "judgements"))
        {
            // JSONL files, AlpacaEval's `annotations.json` (its one JSON file), and Shaberi's
            // judgements (JSON lines named .json, under `judgements/`).
            out.push(path);
        }
    }
    Ok(())
}

/// Builds one report per (mode, judge) found. `mode` keeps only reports of that mode and,
/// for pairwise data, decides between a baseline and all pairs. `baseline` forces
/// pairwise-baseline; without it (and without `--mode pairwise-all`), a model present in every
/// pairwise game of a judge is taken as that judge's baseline (as in ja-vicuna-qa), and
/// otherwise all pairs are reported.
pub fn build_reports(
    loaded: &Loaded,
    baseline: Option<&str>,
    mode: Option<Mode>,
    opts: &StatsOptions,
) -> anyhow::Result<Vec<Report>> {
    let mut reports = Vec::new();
    if mode.is_none_or(Mode::is_graded) {
        reports.extend(graded_reports(loaded, mode, opts));
    }
    if !mode.is_some_and(Mode::is_graded) {
        reports.extend(pairwise_reports(loaded, baseline, mode, opts)?);
    }
    let panels = panel_reports(loaded, &reports, opts);
    reports.extend(panels);
    if reports.is_empty() {
        return Err(UsageError(
            "no judgment records found (expected FastChat single or pair judgment files)".into(),
        )
        .into());
    }
    Ok(reports)
}

/// One report per judge of grades, rubric grades (records with aspects) apart from plain ones.
fn graded_reports(loaded: &Loaded, mode: Option<Mode>, opts: &StatsOptions) -> Vec<Report> {
    // Keyed by benchmark version and by scale too: grades of two versions of a set, or on
    // two scales, are reported apart.
    type Key<'a> = (bool, &'a str, Option<&'a str>, crate::types::Scale);
    let mut by_judge: BTreeMap<Key, Vec<&SingleGrade>> = BTreeMap::new();
    for r in &loaded.single {
        let key = (
            r.aspects.is_some(),
            r.judge.model(),
            r.bench.as_deref(),
            r.scale(),
        );
        by_judge.entry(key).or_default().push(r);
    }
    // A run that expected grades it has none of yet (interrupted early) still reports.
    for ((judge, kind), e) in &loaded.expected {
        if *kind != "pair" {
            let (rubric, bench) = (*kind == "rubric", e.bench.as_deref());
            let any = by_judge
                .keys()
                .any(|k| (k.0, k.1, k.2) == (rubric, judge.as_str(), bench));
            if !any {
                let scale = e.scale.unwrap_or_default();
                by_judge
                    .entry((rubric, judge.as_str(), bench, scale))
                    .or_default();
            }
        }
    }
    let mut out = Vec::new();
    for ((rubric, judge, bench, _), rows) in by_judge {
        let this = if rubric { Mode::Rubric } else { Mode::Single };
        if mode.is_some_and(|m| m != this) {
            continue;
        }
        let exp = loaded
            .expected
            .get(&(judge.to_string(), this.file_kind()))
            .filter(|e| e.bench.as_deref() == bench);
        let result = summarize_single(&rows, opts, &loaded.answers, exp);
        let mut report = Report::single(this, judge, result, exp);
        report.bench = bench.map(str::to_string);
        report.tasks = super::tasks::summarize(&rows, opts.bootstrap);
        out.push(report);
    }
    out
}

/// One report per judge of games.
fn pairwise_reports(
    loaded: &Loaded,
    baseline: Option<&str>,
    mode: Option<Mode>,
    opts: &StatsOptions,
) -> anyhow::Result<Vec<Report>> {
    // Keyed by benchmark version too: games of two versions of a set are reported apart.
    let mut by_judge: BTreeMap<(&str, Option<&str>), Vec<&PairGame>> = BTreeMap::new();
    for ((judge, kind), e) in &loaded.expected {
        if *kind == "pair" {
            by_judge
                .entry((judge.as_str(), e.bench.as_deref()))
                .or_default();
        }
    }
    for r in &loaded.pair {
        by_judge
            .entry((r.judge.model(), r.bench.as_deref()))
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for ((judge, bench), rows) in by_judge {
        let exp = loaded
            .expected
            .get(&(judge.to_string(), "pair"))
            .filter(|e| e.bench.as_deref() == bench);
        let base = baseline_of(judge, &rows, baseline, mode, exp)?;
        let this = if base.is_some() {
            Mode::PairwiseBaseline
        } else {
            Mode::PairwiseAll
        };
        let exp = exp.filter(|e| e.mode == Some(this));
        let result = summarize_pairs(&rows, base.as_deref(), opts, &loaded.answers, exp);
        let mut report = Report::pairwise(judge, base, result, exp);
        report.bench = bench.map(str::to_string);
        out.push(report);
    }
    Ok(out)
}

/// The baseline of a judge's games: `--baseline` (which must play), none for
/// `--mode pairwise-all`, else the run's, else the one model in every game.
fn baseline_of(
    judge: &str,
    rows: &[&PairGame],
    baseline: Option<&str>,
    mode: Option<Mode>,
    exp: Option<&Expectation>,
) -> Result<Option<String>, UsageError> {
    Ok(match (baseline, mode) {
        (Some(b), _) => {
            if !rows.iter().any(|r| r.model_1 == b || r.model_2 == b) {
                return Err(UsageError(format!(
                    "--baseline {b}: no pairwise game of judge {judge} involves that model"
                )));
            }
            Some(b.to_string())
        }
        (None, Some(Mode::PairwiseAll)) => None,
        (None, Some(Mode::PairwiseBaseline)) => {
            match exp
                .and_then(|e| e.baseline.clone())
                .or_else(|| common_model(rows))
            {
                Some(b) => Some(b),
                None => {
                    return Err(UsageError(format!(
                        "--mode pairwise-baseline: no single model plays in every game of judge {judge}; name it with --baseline"
                    )));
                }
            }
        }
        (None, _) => match exp {
            Some(e) if e.mode == Some(Mode::PairwiseAll) => None,
            Some(e) if e.baseline.is_some() => e.baseline.clone(),
            _ => common_model(rows),
        },
    })
}

/// The one model that plays in every game, if exactly one does and there are at least
/// three models (with two models both play everywhere, so the first listed is not assumed).
fn common_model(rows: &[&PairGame]) -> Option<String> {
    let first = rows.first()?;
    // Arena-Hard-Auto's judgments are all against its (unnamed) baseline.
    let arena = crate::records::pair::ARENA_HARD_BASELINE;
    if rows.iter().all(|r| r.model_1 == arena) {
        return Some(arena.to_string());
    }
    let mut models: Vec<&str> = rows
        .iter()
        .flat_map(|r| [r.model_1.as_str(), r.model_2.as_str()])
        .collect();
    models.sort_unstable();
    models.dedup();
    let common: Vec<&str> = [first.model_1.as_str(), first.model_2.as_str()]
        .into_iter()
        .filter(|m| rows.iter().all(|r| r.model_1 == *m || r.model_2 == *m))
        .collect();
    match common.as_slice() {
        [one] if models.len() >= 3 => Some(one.to_string()),
        _ => None,
    }
}

/// The pooled report of each panel the run directories' manifests name, after its judges'
/// reports (a panel whose judges' reports are not all here is not pooled).
fn panel_reports(loaded: &Loaded, judges: &[Report], opts: &StatsOptions) -> Vec<Report> {
    let mut seen: Vec<(Vec<String>, &str)> = Vec::new();
    let mut out = Vec::new();
    for ((_, kind), e) in &loaded.expected {
        let (Some(pool), Some(mode)) = (e.pool, e.mode) else {
            continue;
        };
        if e.panel.len() < 2 || seen.contains(&(e.panel.clone(), kind)) {
            continue;
        }
        seen.push((e.panel.clone(), kind));
        let of: Vec<&Report> = e
            .panel
            .iter()
            .filter_map(|j| {
                judges
                    .iter()
                    .find(|r| &r.judge == j && r.mode.file_kind() == *kind && r.run.is_none())
            })
            .collect();
        if of.len() != e.panel.len() {
            continue;
        }
        let reports: Vec<Report> = of.into_iter().cloned().collect();
        let report = if *kind == "pair" {
            let rows: Vec<Vec<PairGame>> = e
                .panel
                .iter()
                .map(|j| {
                    loaded
                        .pair
                        .iter()
                        .filter(|r| r.judge.model() == j)
                        .cloned()
                        .collect()
                })
                .collect();
            super::panel::pooled_pairs(
                &e.panel,
                &rows,
                &reports,
                pool,
                reports[0].baseline.as_deref(),
                opts,
                &loaded.answers,
                Some(e),
            )
        } else {
            let rubric = mode == Mode::Rubric;
            let rows: Vec<Vec<SingleGrade>> = e
                .panel
                .iter()
                .map(|j| {
                    loaded
                        .single
                        .iter()
                        .filter(|r| r.judge.model() == j && r.aspects.is_some() == rubric)
                        .cloned()
                        .collect()
                })
                .collect();
            super::panel::pooled_single(
                mode,
                &e.panel,
                &rows,
                &reports,
                pool,
                opts,
                &loaded.answers,
                Some(e),
            )
        };
        out.push(report);
    }
    out
}
