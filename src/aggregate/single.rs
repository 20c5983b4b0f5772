//! Single-mode summaries: mean 1-10 score per model, overall, per turn and per category.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::answers::{AnswerIndex, off_language};
use super::bootstrap::mean_interval;
use super::coverage::{Expectation, ModelCoverage, single_coverage};
use super::length::pearson;
use super::samples::{Sampling, single_sampling};
use super::{LengthBias, StatsOptions, mean, ratio};
use crate::records::{Current, SingleGrade};

/// Mean score of one category.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CategoryScore {
    /// Mean score.
    pub score: Option<f64>,
    /// 95% bootstrap interval of the mean.
    pub score_ci: Option<[f64; 2]>,
    /// Scored rows.
    pub n: usize,
}

/// One rubric aspect's figures for one model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AspectScore {
    /// Mean grade.
    pub score: Option<f64>,
    /// 95% bootstrap interval of the mean.
    pub score_ci: Option<[f64; 2]>,
    /// Graded rows.
    pub n: usize,
    /// Mean grade per question category, with its interval.
    pub categories: BTreeMap<String, CategoryScore>,
}

/// One model's single-mode figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SingleSummary {
    /// The model.
    pub model: String,
    /// Scored rows (every turn counts once).
    pub n: usize,
    /// Rows without a score (judge failures, unreadable verdicts).
    pub errors: usize,
    /// Mean over every scored row.
    pub score: Option<f64>,
    /// 95% bootstrap interval of `score` (resampling rows).
    pub score_ci: Option<[f64; 2]>,
    /// Mean over turn-1 rows.
    pub turn1: Option<f64>,
    /// Mean over turn-2 rows (`null` for one-turn benchmarks).
    pub turn2: Option<f64>,
    /// Mean per question category, where the records carry one.
    pub categories: BTreeMap<String, CategoryScore>,
    /// Rubric mode: mean grade per aspect, with its interval and per-category means.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aspects: BTreeMap<String, AspectScore>,
    /// Mean length in characters of the graded answers, when the answers are known.
    pub answer_chars: Option<f64>,
    /// Share of answers to Japanese questions that are not in Japanese.
    pub non_japanese: Option<f64>,
}

/// Summarises single-mode judgments per model, best first. An error row that shinpan recorded
/// is dropped when a later row for the same question, model, turn and judge has a score (a
/// retried failure).
/// Everything computed from one judge's single-mode grades.
#[derive(Debug, Clone)]
pub struct SingleResult {
    /// One entry per model, best first.
    pub models: Vec<SingleSummary>,
    /// Length-bias figures, when answer lengths are known.
    pub length: Option<LengthBias>,
    /// Disagreement of repeated judgments, when items were judged several times.
    pub sampling: Option<Sampling>,
    /// Per model: judgments expected, judged, failed and missing.
    pub coverage: Vec<ModelCoverage>,
}

pub fn summarize_single(
    rows: &[&SingleGrade],
    opts: &StatsOptions,
    answers: &AnswerIndex,
    expected: Option<&Expectation>,
) -> SingleResult {
    let current = Current::grades(rows);
    let rows = current.rows();
    let sampling = single_sampling(&rows, opts.max_listed);
    let coverage = single_coverage(&rows, expected);
    let mut lengths: Vec<f64> = Vec::new();
    let mut length_scores: Vec<f64> = Vec::new();
    let mut by_model: HashMap<&str, Vec<&SingleGrade>> = HashMap::new();
    for &r in &rows {
        by_model.entry(r.model.as_str()).or_default().push(r);
    }
    let mut out: Vec<SingleSummary> = by_model
        .into_iter()
        .map(|(model, rows)| {
            let mut all = Vec::new();
            let mut turns: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            let mut cats: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            let mut errors = 0;
            let mut chars = Vec::new();
            let mut aspect_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            let mut aspect_cats: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
            let (mut off_n, mut known_n) = (0usize, 0usize);
            for r in rows {
                let (qid, turn) = (r.question_id.as_str(), r.turn);
                let answer = answers.answer(model, qid, turn);
                let off = off_language(answers.question_japanese(qid, turn), answer);
                if let Some(off) = off {
                    known_n += 1;
                    off_n += usize::from(off);
                }
                let score = match r.valid_score() {
                    Some(_) if opts.non_japanese_as_failure && off == Some(true) => Some(1.0),
                    other => other,
                };
                let category = r.category.as_deref().or_else(|| answers.category(qid));
                if let (Some(_), Some(map)) = (r.valid_score(), &r.aspects) {
                    for (a, v) in map {
                        aspect_values.entry(a.clone()).or_default().push(*v);
                        if let Some(c) = category {
                            aspect_cats
                                .entry((a.clone(), c.to_string()))
                                .or_default()
                                .push(*v);
                        }
                    }
                }
                match score {
                    Some(s) => {
                        if let Some(a) = answer {
                            chars.push(a.chars as f64);
                            lengths.push(a.chars as f64);
                            length_scores.push(s);
                        }
                        all.push(s);
                        if (1..=2).contains(&r.turn) {
                            turns[r.turn as usize - 1].push(s);
                        }
                        if let Some(c) = category {
                            cats.entry(c.to_string()).or_default().push(s);
                        }
                    }
                    None => errors += 1,
                }
            }
            let b = opts.bootstrap;
            SingleSummary {
                model: model.to_string(),
                n: all.len(),
                errors,
                score: mean(&all),
                score_ci: mean_interval(&all, b, model),
                turn1: mean(&turns[0]),
                turn2: mean(&turns[1]),
                categories: cats
                    .into_iter()
                    .map(|(c, xs)| {
                        let ci = mean_interval(&xs, b, &format!("{model}\u{1f}{c}"));
                        let score = CategoryScore {
                            score: mean(&xs),
                            score_ci: ci,
                            n: xs.len(),
                        };
                        (c, score)
                    })
                    .collect(),
                aspects: aspect_values
                    .into_iter()
                    .map(|(a, xs)| {
                        let categories = aspect_cats
                            .iter()
                            .filter(|((x, _), _)| *x == a)
                            .map(|((_, c), v)| {
                                let name = format!("{model}\u{1f}aspect\u{1f}{a}\u{1f}{c}");
                                let score = CategoryScore {
                                    score: mean(v),
                                    score_ci: mean_interval(v, b, &name),
                                    n: v.len(),
                                };
                                (c.clone(), score)
                            })
                            .collect();
                        let score = AspectScore {
                            score: mean(&xs),
                            score_ci: mean_interval(
                                &xs,
                                b,
                                &format!("{model}\u{1f}aspect\u{1f}{a}"),
                            ),
                            n: xs.len(),
                            categories,
                        };
                        (a, score)
                    })
                    .collect(),
                answer_chars: mean(&chars),
                non_japanese: ratio(off_n, known_n),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.score.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.model.cmp(&b.model))
    });
    let length = (!lengths.is_empty()).then(|| LengthBias {
        n: lengths.len(),
        correlation: pearson(&lengths, &length_scores),
    });
    SingleResult {
        models: out,
        length,
        sampling,
        coverage,
    }
}
