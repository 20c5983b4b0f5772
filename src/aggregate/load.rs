//! Loading judgment files for `shinpan report`: a run directory, FastChat's
//! `model_judgment/` files, or ja-vicuna-qa's `pairwise:*.jsonl` files, in any mix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::answers::AnswerIndex;
use super::records::{PairGame, SingleGrade};
use super::{Mode, ModelSummary, Report, StatsOptions, summarize_pairs, summarize_single};
use crate::store::read_jsonl;

/// Judgments read from files.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Single-mode rows.
    pub single: Vec<SingleGrade>,
    /// Pairwise rows.
    pub pair: Vec<PairGame>,
    /// Lengths and languages of the answers and questions found beside them.
    pub answers: AnswerIndex,
}

/// Reads every judgment file under the given paths (files, or directories searched
/// recursively for `*.jsonl`), and the answer and question files among them (for length and
/// language figures). Each file's kind is told by its first record. Reference answers
/// (under a `reference_answer` directory) are not a model's answers and are skipped.
pub fn load_judgments(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect(p, &mut files)
                .with_context(|| format!("{}: cannot list the directory", p.display()))?;
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    files.sort();
    let mut out = Loaded::default();
    for f in files {
        match kind_of(&f)? {
            Some(Kind::Single) => out.single.extend(
                read_jsonl::<SingleGrade>(&f)
                    .with_context(|| f.display().to_string())?
                    .into_iter()
                    .map(|(_, r)| r),
            ),
            Some(Kind::Pair) => out.pair.extend(
                read_jsonl::<PairGame>(&f)
                    .with_context(|| f.display().to_string())?
                    .into_iter()
                    .map(|(_, r)| r),
            ),
            Some(Kind::Answers) => {
                let reference = f.components().any(|c| c.as_os_str() == "reference_answer");
                if !reference {
                    out.answers
                        .add_answers(&f)
                        .with_context(|| f.display().to_string())?;
                }
            }
            Some(Kind::Questions) => out
                .answers
                .add_questions(&f)
                .with_context(|| f.display().to_string())?,
            None => {}
        }
    }
    Ok(out)
}

enum Kind {
    Single,
    Pair,
    Answers,
    Questions,
}

fn kind_of(path: &Path) -> anyhow::Result<Option<Kind>> {
    use std::io::BufRead;
    let f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    for line in std::io::BufReader::new(f).lines() {
        let line = line.with_context(|| format!("{}: cannot read", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            return Ok(None);
        };
        return Ok(if v.get("g1_winner").is_some() {
            Some(Kind::Pair)
        } else if v.get("score").is_some() && v.get("model").is_some() {
            Some(Kind::Single)
        } else if v.get("choices").is_some() && v.get("question_id").is_some() {
            Some(Kind::Answers)
        } else if v.get("turns").is_some() && v.get("question_id").is_some() {
            Some(Kind::Questions)
        } else {
            None
        });
    }
    Ok(None)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
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
        // Rubric grades (records with aspects) are reported apart from plain grades.
        let mut by_judge: BTreeMap<(bool, &str), Vec<&SingleGrade>> = BTreeMap::new();
        for r in &loaded.single {
            let key = (r.aspects.is_some(), r.judge.model());
            by_judge.entry(key).or_default().push(r);
        }
        for ((rubric, judge), rows) in by_judge {
            let this = if rubric { Mode::Rubric } else { Mode::Single };
            if mode.is_some_and(|m| m != this) {
                continue;
            }
            let result = summarize_single(&rows, opts, &loaded.answers);
            reports.push(
                Report {
                    mode: this,
                    judge: judge.to_string(),
                    baseline: None,
                    models: result
                        .models
                        .into_iter()
                        .map(ModelSummary::Single)
                        .collect(),
                    position_bias: None,
                    length_bias: result.length,
                    sampling: result.sampling,
                    same_family_as_judge: Vec::new(),
                }
                .flag_self_preference(),
            );
        }
    }
    if !mode.is_some_and(Mode::is_graded) {
        let mut by_judge: BTreeMap<&str, Vec<&PairGame>> = BTreeMap::new();
        for r in &loaded.pair {
            by_judge.entry(r.judge.model()).or_default().push(r);
        }
        for (judge, rows) in by_judge {
            let base = match (baseline, mode) {
                (Some(b), _) => {
                    if !rows.iter().any(|r| r.model_1 == b || r.model_2 == b) {
                        bail!(
                            "--baseline {b}: no pairwise game of judge {judge} involves that model"
                        );
                    }
                    Some(b.to_string())
                }
                (None, Some(Mode::PairwiseAll)) => None,
                (None, Some(Mode::PairwiseBaseline)) => match common_model(&rows) {
                    Some(b) => Some(b),
                    None => bail!(
                        "--mode pairwise-baseline: no single model plays in every game of judge {judge}; name it with --baseline"
                    ),
                },
                (None, _) => common_model(&rows),
            };
            let result = summarize_pairs(&rows, base.as_deref(), opts, &loaded.answers);
            reports.push(
                Report {
                    mode: if base.is_some() {
                        Mode::PairwiseBaseline
                    } else {
                        Mode::PairwiseAll
                    },
                    judge: judge.to_string(),
                    models: result.models.into_iter().map(ModelSummary::Pair).collect(),
                    position_bias: Some(result.position),
                    length_bias: result.length,
                    sampling: result.sampling,
                    baseline: base,
                    same_family_as_judge: Vec::new(),
                }
                .flag_self_preference(),
            );
        }
    }
    if reports.is_empty() {
        bail!("no judgment records found (expected FastChat single or pair judgment files)");
    }
    Ok(reports)
}

/// The one model that plays in every game, if exactly one does and there are at least
/// three models (with two models both play everywhere, so the first listed is not assumed).
fn common_model(rows: &[&PairGame]) -> Option<String> {
    let first = rows.first()?;
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
