//! Repeated judging (`--judge-samples K`): the K judgments of one item are collapsed into one
//! (the median grade, or the majority verdict of each order), and how much they disagreed is
//! reported, so run-to-run drift of the judge is visible instead of averaged away.

use std::collections::BTreeMap;

use serde::Serialize;

use super::records::{PairGame, SingleGrade};
use super::{GameOutcome, combine};
use crate::judge::Winner;

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

fn finish(mut unstable: Vec<UnstableItem>, max_listed: usize) -> Vec<UnstableItem> {
    unstable.sort_by(|a, b| b.spread.total_cmp(&a.spread));
    if max_listed > 0 {
        unstable.truncate(max_listed);
    }
    unstable
}

/// The rows to aggregate: every row judged once, then one collapsed row per sampled item.
pub fn with_collapsed<'a, T>(
    rows: &[&'a T],
    collapsed: &'a [T],
    sampled: impl Fn(&T) -> bool,
) -> Vec<&'a T> {
    rows.iter()
        .copied()
        .filter(|r| !sampled(r))
        .chain(collapsed.iter())
        .collect()
}

type SingleKey<'a> = (&'a str, &'a str, u32, &'a str);

/// Collapses sampled single-mode rows (those with a `sample` index) into one row per item,
/// with the median of the samples' grades; rows without an index pass through unchanged.
pub fn collapse_single(
    rows: &[&SingleGrade],
    max_listed: usize,
) -> (Vec<SingleGrade>, Option<Sampling>) {
    let mut groups: BTreeMap<SingleKey, Vec<&SingleGrade>> = BTreeMap::new();
    for &r in rows.iter().filter(|r| r.sample.is_some()) {
        let key = (
            r.question_id.0.as_str(),
            r.model.as_str(),
            r.turn,
            r.judge.model(),
        );
        groups.entry(key).or_default().push(r);
    }
    if groups.is_empty() {
        return (Vec::new(), None);
    }
    let mut out = Vec::with_capacity(groups.len());
    let (mut samples, mut range_sum, mut unstable) = (0usize, 0.0, 0usize);
    let mut listed = Vec::new();
    for (key, group) in &groups {
        samples = samples.max(group.len());
        let mut scores: Vec<f64> = group.iter().filter_map(|r| r.valid_score()).collect();
        scores.sort_by(f64::total_cmp);
        let mut row = (*group[0]).clone();
        row.sample = None;
        if scores.is_empty() {
            row.score = None;
            row.error = Some(format!("none of {} samples had a verdict", group.len()));
        } else {
            let median = median_of(scores.clone());
            row.score = Some(median);
            row.error = None;
            if row.aspects.is_some() {
                // Each aspect takes the median of the samples that graded it.
                let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
                for r in group.iter().filter(|r| r.valid_score().is_some()) {
                    for (a, v) in r.aspects.iter().flatten() {
                        per.entry(a.clone()).or_default().push(*v);
                    }
                }
                row.aspects = Some(per.into_iter().map(|(a, v)| (a, median_of(v))).collect());
            }
            let range = scores[scores.len() - 1] - scores[0];
            range_sum += range;
            if range > 0.0 || scores.len() < group.len() {
                unstable += 1;
                listed.push(UnstableItem {
                    question_id: key.0.to_string(),
                    turn: key.2,
                    model: key.1.to_string(),
                    values: group.iter().filter_map(|r| r.valid_score()).collect(),
                    spread: range,
                });
            }
        }
        out.push(row);
    }
    let items = groups.len();
    let sampling = Sampling {
        samples,
        items,
        mean_spread: range_sum / items as f64,
        unstable_items: unstable,
        unstable: finish(listed, max_listed),
    };
    (out, Some(sampling))
}

fn median_of(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

type PairKey<'a> = (&'a str, &'a str, &'a str, u32, &'a str);

/// The most frequent verdict among those with one; a tie for the top between different
/// verdicts is a tie; all errors stay an error.
fn majority(ws: impl Iterator<Item = Winner>) -> Winner {
    let mut counts: BTreeMap<u8, (usize, Winner)> = BTreeMap::new();
    for w in ws.filter(|w| *w != Winner::Error) {
        let k = match w {
            Winner::Model1 => 0,
            Winner::Model2 => 1,
            _ => 2,
        };
        counts.entry(k).or_insert((0, w)).0 += 1;
    }
    let Some(top) = counts.values().map(|(n, _)| *n).max() else {
        return Winner::Error;
    };
    let leaders: Vec<Winner> = counts
        .values()
        .filter(|(n, _)| *n == top)
        .map(|(_, w)| *w)
        .collect();
    if leaders.len() == 1 {
        leaders[0]
    } else {
        Winner::Tie
    }
}

/// Collapses sampled pairwise games into one game per item: each order takes the majority of
/// its samples' verdicts, so position consistency keeps its meaning.
pub fn collapse_pairs(rows: &[&PairGame], max_listed: usize) -> (Vec<PairGame>, Option<Sampling>) {
    let mut groups: BTreeMap<PairKey, Vec<&PairGame>> = BTreeMap::new();
    for &r in rows.iter().filter(|r| r.sample.is_some()) {
        let key = (
            r.question_id.0.as_str(),
            r.model_1.as_str(),
            r.model_2.as_str(),
            r.turn,
            r.judge.model(),
        );
        groups.entry(key).or_default().push(r);
    }
    if groups.is_empty() {
        return (Vec::new(), None);
    }
    let mut out = Vec::with_capacity(groups.len());
    let (mut samples, mut spread_sum, mut unstable) = (0usize, 0.0, 0usize);
    let mut listed = Vec::new();
    for (key, group) in &groups {
        samples = samples.max(group.len());
        let mut row = (*group[0]).clone();
        row.sample = None;
        row.g1_winner = majority(group.iter().map(|r| r.g1_winner));
        row.g2_winner = majority(group.iter().map(|r| r.g2_winner));
        row.g1_error = None;
        row.g2_error = None;
        let verdict = combine(row.g1_winner, row.g2_winner).0;
        let outcomes: Vec<GameOutcome> = group
            .iter()
            .map(|r| combine(r.g1_winner, r.g2_winner).0)
            .collect();
        let differ = outcomes.iter().filter(|o| **o != verdict).count();
        let spread = differ as f64 / group.len() as f64;
        spread_sum += spread;
        if differ > 0 {
            unstable += 1;
            listed.push(UnstableItem {
                question_id: key.0.to_string(),
                turn: key.3,
                model: format!("{} vs {}", key.1, key.2),
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
        out.push(row);
    }
    let items = groups.len();
    let sampling = Sampling {
        samples,
        items,
        mean_spread: spread_sum / items as f64,
        unstable_items: unstable,
        unstable: finish(listed, max_listed),
    };
    (out, Some(sampling))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Winner::*;

    #[test]
    fn majority_rules() {
        assert_eq!(majority([Model1, Model1, Model2].into_iter()), Model1);
        assert_eq!(majority([Model1, Model2].into_iter()), Tie);
        assert_eq!(majority([Error, Model2, Error].into_iter()), Model2);
        assert_eq!(majority([Error, Error].into_iter()), Error);
    }
}
