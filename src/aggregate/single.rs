//! Single-mode summaries: mean grade per model, overall, per turn and per category, on the
//! scale the grades were given on.

use std::collections::BTreeMap;

use serde::Serialize;

use super::answers::{AnswerIndex, off_language};
use super::bootstrap::mean_interval;
use super::coverage::{Expectation, ModelCoverage, single_coverage};
use super::length::pearson;
use super::samples::{Sampling, single_sampling};
use super::{LengthBias, StatsOptions, mean, ratio};
use crate::records::{Current, SingleGrade};
use crate::types::Scale;

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
    /// The scale every mean here is on (`{"min": 1, "max": 5}`).
    pub scale: Scale,
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
    /// Mean characters of its thinking per answer turn (reasoning models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_chars: Option<f64>,
    /// Share of answers to Japanese questions that are not in Japanese.
    pub non_japanese: Option<f64>,
}

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
    /// The scale of the grades (one per report: grades on two scales are reported apart).
    pub scale: Scale,
}

/// Summarises single-mode judgments per model, best first. The records that count are chosen
/// by [`crate::records::current`].
pub fn summarize_single(
    rows: &[&SingleGrade],
    opts: &StatsOptions,
    answers: &AnswerIndex,
    expected: Option<&Expectation>,
) -> SingleResult {
    let current = Current::grades(rows);
    let rows = current.rows();
    // Callers group grades by scale; one with none recorded (or a run expecting grades that
    // it has none of yet) is on its expectation's scale, else 1-10.
    let scale = rows
        .first()
        .map(|r| r.scale())
        .or(expected.and_then(|e| e.scale))
        .unwrap_or_default();
    let sampling = single_sampling(&rows, opts.max_listed);
    let coverage = single_coverage(&rows, expected);
    // In name order: the length-bias points are gathered model by model, and a hash map's
    // order (new in every process) changed the correlation's last digits from run to run.
    let mut by_model: BTreeMap<&str, Vec<&SingleGrade>> = BTreeMap::new();
    for &r in &rows {
        by_model.entry(r.model.as_str()).or_default().push(r);
    }
    // (answer length, grade) of every graded row with a known answer, for the length bias.
    let mut lengths: Vec<(f64, f64)> = Vec::new();
    let mut out: Vec<SingleSummary> = by_model
        .into_iter()
        .map(|(model, rows)| SingleSummary {
            reasoning_chars: answers.reasoning_chars(model),
            ..summary(model, &rows, scale, opts, answers, &mut lengths)
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.score.unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.model.cmp(&b.model))
    });
    let length = (!lengths.is_empty()).then(|| {
        let (xs, ys): (Vec<f64>, Vec<f64>) = lengths.iter().copied().unzip();
        LengthBias {
            n: lengths.len(),
            correlation: pearson(&xs, &ys),
        }
    });
    SingleResult {
        models: out,
        length,
        sampling,
        coverage,
        scale,
    }
}

/// The grades of one model, gathered by what they are reported by.
#[derive(Default)]
struct Grades {
    all: Vec<f64>,
    turns: [Vec<f64>; 2],
    categories: BTreeMap<String, Vec<f64>>,
    aspects: BTreeMap<String, Vec<f64>>,
    aspect_categories: BTreeMap<(String, String), Vec<f64>>,
    errors: usize,
    chars: Vec<f64>,
    off_language: usize,
    language_known: usize,
}

/// One model's line; its (length, grade) pairs are added to `lengths`.
fn summary(
    model: &str,
    rows: &[&SingleGrade],
    scale: Scale,
    opts: &StatsOptions,
    answers: &AnswerIndex,
    lengths: &mut Vec<(f64, f64)>,
) -> SingleSummary {
    let mut g = Grades::default();
    for r in rows {
        let (qid, turn) = (r.question_id.as_str(), r.turn);
        let answer = answers.answer(model, qid, turn);
        let off = off_language(answers.question_japanese(qid, turn), answer);
        if let Some(off) = off {
            g.language_known += 1;
            g.off_language += usize::from(off);
        }
        let score = match r.valid_score() {
            // The lowest grade of the scale.
            Some(_) if opts.non_japanese_as_failure && off == Some(true) => {
                Some(f64::from(scale.min))
            }
            other => other,
        };
        let category = r.category.as_deref().or_else(|| answers.category(qid));
        if let (Some(_), Some(map)) = (r.valid_score(), &r.aspects) {
            for (a, v) in map {
                g.aspects.entry(a.clone()).or_default().push(*v);
                if let Some(c) = category {
                    g.aspect_categories
                        .entry((a.clone(), c.to_string()))
                        .or_default()
                        .push(*v);
                }
            }
        }
        let Some(s) = score else {
            g.errors += 1;
            continue;
        };
        if let Some(a) = answer {
            g.chars.push(a.chars as f64);
            lengths.push((a.chars as f64, s));
        }
        g.all.push(s);
        if (1..=2).contains(&turn) {
            g.turns[turn as usize - 1].push(s);
        }
        if let Some(c) = category {
            g.categories.entry(c.to_string()).or_default().push(s);
        }
    }
    let b = opts.bootstrap;
    // Each interval has its own seeded stream, named after what it measures.
    let scored = |xs: &[f64], name: String| CategoryScore {
        score: mean(xs),
        score_ci: mean_interval(xs, b, &name),
        n: xs.len(),
    };
    SingleSummary {
        model: model.to_string(),
        scale,
        n: g.all.len(),
        errors: g.errors,
        score: mean(&g.all),
        score_ci: mean_interval(&g.all, b, model),
        turn1: mean(&g.turns[0]),
        turn2: mean(&g.turns[1]),
        categories: g
            .categories
            .iter()
            .map(|(c, xs)| (c.clone(), scored(xs, format!("{model}\u{1f}{c}"))))
            .collect(),
        aspects: aspect_scores(model, &g, b),
        answer_chars: mean(&g.chars),
        reasoning_chars: None,
        non_japanese: ratio(g.off_language, g.language_known),
    }
}

/// Each rubric aspect's mean with its interval, overall and per category.
fn aspect_scores(
    model: &str,
    g: &Grades,
    b: crate::aggregate::BootstrapOptions,
) -> BTreeMap<String, AspectScore> {
    let scored = |xs: &[f64], name: String| CategoryScore {
        score: mean(xs),
        score_ci: mean_interval(xs, b, &name),
        n: xs.len(),
    };
    g.aspects
        .iter()
        .map(|(a, xs)| {
            let categories = g
                .aspect_categories
                .iter()
                .filter(|((x, _), _)| x == a)
                .map(|((_, c), v)| {
                    let name = format!("{model}\u{1f}aspect\u{1f}{a}\u{1f}{c}");
                    (c.clone(), scored(v, name))
                })
                .collect();
            let whole = scored(xs, format!("{model}\u{1f}aspect\u{1f}{a}"));
            let score = AspectScore {
                score: whole.score,
                score_ci: whole.score_ci,
                n: whole.n,
                categories,
            };
            (a.clone(), score)
        })
        .collect()
}
