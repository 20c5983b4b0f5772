//! Repeated judging (`--judge-samples K`): how much the K judgments of each item disagreed,
//! so run-to-run drift of the judge is visible instead of averaged away. The K judgments of
//! an item are collapsed into one record (the median grade, or each order's majority verdict)
//! by [`crate::records::current`], which keeps the K verdicts on that record; the figures
//! here are read from them.

use serde::Serialize;

use super::sum::ExactSum;
use super::{GameOutcome, combine};
use crate::records::{PairGame, SingleGrade};

/// How much repeated judgments of the same items disagreed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sampling {
    /// Most judgments seen for one item.
    pub samples: usize,
    /// Items judged more than once.
    pub items: usize,
    /// Single: mean range (max − min) of an item's grades. Pairwise: mean share of an item's
    /// judgments whose combined verdict differs from the majority.
    pub mean_spread: f64,
    /// Items whose judgments were not all the same.
    pub unstable_items: usize,
    /// Those items with their spread, largest first (at most `--max-listed`).
    pub unstable: Vec<UnstableItem>,
}

/// One item whose repeated judgments disagreed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnstableItem {
    /// The question.
    pub question_id: String,
    /// The turn.
    pub turn: u32,
    /// The model graded, or `model_1 vs model_2`.
    pub model: String,
    /// Grades (single) or combined verdicts for model_1 as 1 / 0.5 / 0 (pairwise), in order.
    pub values: Vec<f64>,
    /// Range of grades, or share of verdicts differing from the majority.
    pub spread: f64,
}

fn summary(
    items: usize,
    samples: usize,
    spread_sum: f64,
    mut unstable: Vec<UnstableItem>,
    max_listed: usize,
) -> Option<Sampling> {
    if items == 0 {
        return None;
    }
    let unstable_items = unstable.len();
    unstable.sort_by(|a, b| {
        b.spread
            .total_cmp(&a.spread)
            .then_with(|| a.question_id.cmp(&b.question_id))
            .then_with(|| a.turn.cmp(&b.turn))
            .then_with(|| a.model.cmp(&b.model))
    });
    if max_listed > 0 {
        unstable.truncate(max_listed);
    }
    Some(Sampling {
        samples,
        items,
        mean_spread: spread_sum / items as f64,
        unstable_items,
        unstable,
    })
}

/// The disagreement of sampled grades: per item, the range of its samples' grades; an item
/// is unstable when they differ or some sample has none.
pub fn single_sampling(rows: &[&SingleGrade], max_listed: usize) -> Option<Sampling> {
    let (mut items, mut samples, mut range_sum) = (0, 0, ExactSum::new());
    let mut unstable = Vec::new();
    for r in rows.iter().filter(|r| r.samples.len() > 1) {
        items += 1;
        samples = samples.max(r.samples.len());
        let values: Vec<f64> = r.samples.iter().flatten().copied().collect();
        let (Some(lo), Some(hi)) = (
            values.iter().copied().reduce(f64::min),
            values.iter().copied().reduce(f64::max),
        ) else {
            continue;
        };
        let range = hi - lo;
        range_sum.add(range);
        if range > 0.0 || values.len() < r.samples.len() {
            unstable.push(UnstableItem {
                question_id: r.question_id.to_string(),
                turn: r.turn,
                model: r.model.clone(),
                values,
                spread: range,
            });
        }
    }
    summary(items, samples, range_sum.value(), unstable, max_listed)
}

/// The disagreement of sampled games: per item, the share of samples whose combined verdict
/// differs from the collapsed one.
pub fn pair_sampling(rows: &[&PairGame], max_listed: usize) -> Option<Sampling> {
    let (mut items, mut samples, mut spread_sum) = (0, 0, ExactSum::new());
    let mut unstable = Vec::new();
    for r in rows.iter().filter(|r| r.samples.len() > 1) {
        items += 1;
        samples = samples.max(r.samples.len());
        let verdict = combine(r.g1_winner, r.g2_winner).0;
        let outcomes: Vec<GameOutcome> = r.samples.iter().map(|[a, b]| combine(*a, *b).0).collect();
        let differ = outcomes.iter().filter(|o| **o != verdict).count();
        let spread = differ as f64 / outcomes.len() as f64;
        spread_sum.add(spread);
        if differ > 0 {
            unstable.push(UnstableItem {
                question_id: r.question_id.to_string(),
                turn: r.turn,
                model: format!("{} vs {}", r.model_1, r.model_2),
                values: outcomes
                    .iter()
                    .filter_map(|o| match o {
                        GameOutcome::Model1 => Some(1.0),
                        GameOutcome::Model2 => Some(0.0),
                        GameOutcome::Tie => Some(0.5),
                        GameOutcome::Error => None,
                    })
                    .collect(),
                spread,
            });
        }
    }
    summary(items, samples, spread_sum.value(), unstable, max_listed)
}
