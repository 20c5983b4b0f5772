//! Agreement between judges on the same answers: how often two judges (or a judge and human
//! votes) reach the same verdict, chance-corrected with Cohen's kappa, and how their scores
//! and model rankings correlate (Pearson, Spearman, Kendall's tau-b).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::length::pearson;
use super::sum::{ExactSum, exact_sum};
use super::{GameOutcome, combine};
use crate::records::{PairGame, SingleGrade};
use crate::types::QuestionId;

/// A pairwise verdict about an unordered pair, from the first-named model's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vote {
    /// The alphabetically first model won.
    First,
    /// The other model won.
    Second,
    /// Neither.
    Tie,
}

/// One item (question, turn, and the model or the unordered pair) as a string key.
type Item = (String, u32, String, String);

/// A human (or any) vote in FastChat's `compute_agreement` format.
#[derive(Debug, Deserialize)]
pub struct HumanVote {
    /// The question.
    pub question_id: QuestionId,
    /// One model.
    pub model_a: String,
    /// The other model.
    pub model_b: String,
    /// `model_a`, `model_b`, `tie` or `tie (bothbad)`.
    pub winner: String,
    /// Who voted (`expert_0`, `author_2`, …).
    pub judge: serde_json::Value,
    /// The turn.
    #[serde(default = "one", deserialize_with = "crate::records::integral_u32")]
    pub turn: u32,
}

fn one() -> u32 {
    1
}

/// Agreement between two judges.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JudgePair {
    /// First judge.
    pub judge_a: String,
    /// Second judge.
    pub judge_b: String,
    /// Items both judged.
    pub n: usize,
    /// Share of items (or vote pairs) with the same verdict, ties included (pairwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<f64>,
    /// Same, over vote pairs where neither says tie (pairwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement_without_ties: Option<f64>,
    /// Cohen's kappa of the verdicts (pairwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohen_kappa: Option<f64>,
    /// Pearson correlation of the scores (single).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_pearson: Option<f64>,
    /// Spearman correlation of the scores (single).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_spearman: Option<f64>,
    /// Models ranked by both judges.
    pub models: usize,
    /// Spearman correlation of the model rankings (mean score, or adjusted win rate).
    pub ranking_spearman: Option<f64>,
    /// Kendall's tau-b of the model rankings.
    pub ranking_kendall: Option<f64>,
    /// The vote pairs behind `agreement` and `agreement_without_ties` (pairwise), as
    /// FastChat's `compute_agreement.py` prints them (#agree / #total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<VoteCounts>,
    /// The same per turn (pairwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_turn: Vec<TurnAgreement>,
}

/// Vote pairs compared and agreeing, with ties and without (pairs where either says tie left
/// out; `tie` and `tie (bothbad)` agree with each other).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct VoteCounts {
    /// Vote pairs with the same verdict.
    pub agreed: usize,
    /// Vote pairs compared.
    pub total: usize,
    /// Decisive vote pairs (neither a tie) with the same verdict.
    pub agreed_without_ties: usize,
    /// Decisive vote pairs compared.
    pub total_without_ties: usize,
}

impl VoteCounts {
    fn of(pairs: &[(Vote, Vote)]) -> Self {
        let decisive = pairs
            .iter()
            .filter(|(x, y)| *x != Vote::Tie && *y != Vote::Tie);
        VoteCounts {
            agreed: pairs.iter().filter(|(x, y)| x == y).count(),
            total: pairs.len(),
            agreed_without_ties: decisive.clone().filter(|(x, y)| x == y).count(),
            total_without_ties: decisive.count(),
        }
    }
}

/// Agreement of one turn's items.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TurnAgreement {
    /// The turn.
    pub turn: u32,
    /// agreed / total.
    pub agreement: Option<f64>,
    /// agreed_without_ties / total_without_ties.
    pub agreement_without_ties: Option<f64>,
    /// The counts.
    #[serde(flatten)]
    pub counts: VoteCounts,
}

/// Agreement figures of vote pairs, overall and per turn (`turn_of`: each pair's turn).
fn vote_agreement(pairs: &[(u32, Vote, Vote)]) -> (VoteCounts, Vec<TurnAgreement>) {
    let all: Vec<(Vote, Vote)> = pairs.iter().map(|p| (p.1, p.2)).collect();
    let turns: BTreeSet<u32> = pairs.iter().map(|p| p.0).collect();
    let by_turn = turns
        .into_iter()
        .map(|t| {
            let of: Vec<(Vote, Vote)> = pairs
                .iter()
                .filter(|p| p.0 == t)
                .map(|p| (p.1, p.2))
                .collect();
            let counts = VoteCounts::of(&of);
            TurnAgreement {
                turn: t,
                agreement: super::ratio(counts.agreed, counts.total),
                agreement_without_ties: super::ratio(
                    counts.agreed_without_ties,
                    counts.total_without_ties,
                ),
                counts,
            }
        })
        .collect();
    (VoteCounts::of(&all), by_turn)
}

/// Agreement report for one mode.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Agreement {
    /// `single` or `pairwise`.
    pub mode: String,
    /// Every pair of judges.
    pub pairs: Vec<JudgePair>,
    /// Each model's figure from each judge (mean grade, or adjusted win rate over all its
    /// games), so a judge's preference for its own family shows side by side.
    pub by_model: BTreeMap<String, BTreeMap<String, f64>>,
}

fn by_model(
    per_judge: Vec<(String, BTreeMap<String, f64>)>,
) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (judge, models) in per_judge {
        for (m, v) in models {
            out.entry(m).or_default().insert(judge.clone(), v);
        }
    }
    out
}

/// Ranks with ties averaged (1-based).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson of average ranks).
pub fn spearman(xs: &[f64], ys: &[f64]) -> Option<f64> {
    pearson(&ranks(xs), &ranks(ys))
}

/// Kendall's tau-b, which corrects for ties.
pub fn kendall_tau_b(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    let (mut concordant, mut discordant, mut tie_x, mut tie_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = (xs[i] - xs[j]).partial_cmp(&0.0)?;
            let dy = (ys[i] - ys[j]).partial_cmp(&0.0)?;
            use std::cmp::Ordering::Equal;
            match (dx, dy) {
                (Equal, Equal) => {}
                (Equal, _) => tie_x += 1,
                (_, Equal) => tie_y += 1,
                (a, b) if a == b => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n1 = (concordant + discordant + tie_x) as f64;
    let n2 = (concordant + discordant + tie_y) as f64;
    (n1 > 0.0 && n2 > 0.0).then(|| (concordant - discordant) as f64 / (n1 * n2).sqrt())
}

/// Cohen's kappa of two raters' labels on the same items.
pub fn cohen_kappa<T: Eq + std::hash::Hash + Copy>(pairs: &[(T, T)]) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let po = pairs.iter().filter(|(a, b)| a == b).count() as f64 / n;
    let mut ca: HashMap<T, f64> = HashMap::new();
    let mut cb: HashMap<T, f64> = HashMap::new();
    for &(a, b) in pairs {
        *ca.entry(a).or_default() += 1.0;
        *cb.entry(b).or_default() += 1.0;
    }
    let pe = exact_sum(
        ca.iter()
            .map(|(k, x)| x / n * cb.get(k).copied().unwrap_or(0.0) / n),
    );
    (pe < 1.0).then(|| (po - pe) / (1.0 - pe))
}

fn rank_models(
    a: &BTreeMap<String, f64>,
    b: &BTreeMap<String, f64>,
) -> (usize, Option<f64>, Option<f64>) {
    let common: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
    let xs: Vec<f64> = common.iter().map(|k| a[*k]).collect();
    let ys: Vec<f64> = common.iter().map(|k| b[*k]).collect();
    (common.len(), spearman(&xs, &ys), kendall_tau_b(&xs, &ys))
}

/// Agreement of single-mode grades between every pair of judges.
pub fn single_agreement(rows: &[SingleGrade]) -> Agreement {
    let mut by_judge: BTreeMap<String, HashMap<Item, Vec<f64>>> = BTreeMap::new();
    for r in rows {
        if let Some(s) = r.valid_score() {
            let item = (
                r.question_id.to_string(),
                r.turn,
                r.model.clone(),
                String::new(),
            );
            // Rubric grades are a different measurement from plain grades.
            let judge = if r.aspects.is_some() {
                format!("{} [rubric]", r.judge.model())
            } else {
                r.judge.model().to_string()
            };
            by_judge
                .entry(judge)
                .or_default()
                .entry(item)
                .or_default()
                .push(s);
        }
    }
    let judges: Vec<&String> = by_judge.keys().collect();
    // Every item listed has at least one grade.
    let mean = |v: &Vec<f64>| super::mean(v).unwrap_or(f64::NAN);
    let model_means = |m: &HashMap<Item, Vec<f64>>| -> BTreeMap<String, f64> {
        let mut acc: BTreeMap<String, (ExactSum, usize)> = BTreeMap::new();
        for ((_, _, model, _), v) in m {
            let e = acc.entry(model.clone()).or_default();
            v.iter().for_each(|x| e.0.add(*x));
            e.1 += v.len();
        }
        acc.into_iter()
            .map(|(k, (s, n))| (k, s.value() / n as f64))
            .collect()
    };
    let mut pairs = Vec::new();
    for (i, ja) in judges.iter().enumerate() {
        for jb in &judges[i + 1..] {
            let (a, b) = (&by_judge[*ja], &by_judge[*jb]);
            let mut xs = Vec::new();
            let mut ys = Vec::new();
            let mut keys: Vec<&Item> = a.keys().filter(|k| b.contains_key(*k)).collect();
            keys.sort();
            for k in keys {
                xs.push(mean(&a[k]));
                ys.push(mean(&b[k]));
            }
            let (models, rs, rk) = rank_models(&model_means(a), &model_means(b));
            pairs.push(JudgePair {
                judge_a: ja.to_string(),
                judge_b: jb.to_string(),
                n: xs.len(),
                agreement: None,
                agreement_without_ties: None,
                cohen_kappa: None,
                score_pearson: pearson(&xs, &ys),
                counts: None,
                by_turn: Vec::new(),
                score_spearman: spearman(&xs, &ys),
                models,
                ranking_spearman: rs,
                ranking_kendall: rk,
            });
        }
    }
    let figures = by_judge
        .iter()
        .map(|(j, m)| (j.clone(), model_means(m)))
        .collect();
    Agreement {
        mode: "single".into(),
        pairs,
        by_model: by_model(figures),
    }
}

/// Votes of one judge: item → verdicts (several when the judge voted more than once).
type Votes = HashMap<Item, Vec<Vote>>;

fn vote_item(qid: &str, turn: u32, m1: &str, m2: &str, winner_is_1: Option<bool>) -> (Item, Vote) {
    let (first, second, flip) = if m1 <= m2 {
        (m1, m2, false)
    } else {
        (m2, m1, true)
    };
    let vote = match winner_is_1 {
        None => Vote::Tie,
        Some(w1) if w1 != flip => Vote::First,
        Some(_) => Vote::Second,
    };
    (
        (qid.to_string(), turn, first.to_string(), second.to_string()),
        vote,
    )
}

/// Pairwise votes of every judge in judgment files (both orders combined by the swap rule,
/// error games left out).
pub fn judge_votes(rows: &[PairGame]) -> BTreeMap<String, Votes> {
    let mut out: BTreeMap<String, Votes> = BTreeMap::new();
    for r in rows {
        let w = match combine(r.g1_winner, r.g2_winner).0 {
            GameOutcome::Error => continue,
            GameOutcome::Model1 => Some(true),
            GameOutcome::Model2 => Some(false),
            GameOutcome::Tie => None,
        };
        let (item, vote) = vote_item(r.question_id.as_str(), r.turn, &r.model_1, &r.model_2, w);
        out.entry(r.judge.model().to_string())
            .or_default()
            .entry(item)
            .or_default()
            .push(vote);
    }
    out
}

/// Votes in FastChat's human-judgment format, by voter group as FastChat's
/// `compute_agreement.py` (lm-sys/FastChat at 0283a0b) groups them: voters named `expert_*`
/// are `human`, `author_*` are `author`, others keep their name (a judge as `[model,
/// prompt]` goes by its model).
pub fn human_votes(votes: &[HumanVote]) -> BTreeMap<String, Votes> {
    let mut out: BTreeMap<String, Votes> = BTreeMap::new();
    for v in votes {
        let who = match &v.judge {
            serde_json::Value::String(s) if s.starts_with("expert") => "human".to_string(),
            serde_json::Value::String(s) if s.starts_with("author") => "author".to_string(),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(a) => a
                .first()
                .and_then(|x| x.as_str())
                .unwrap_or("unknown")
                .to_string(),
            _ => "unknown".to_string(),
        };
        let w = match v.winner.as_str() {
            "model_a" => Some(true),
            "model_b" => Some(false),
            _ => None,
        };
        let (item, vote) = vote_item(v.question_id.as_str(), v.turn, &v.model_a, &v.model_b, w);
        out.entry(who)
            .or_default()
            .entry(item)
            .or_default()
            .push(vote);
    }
    out
}

/// Agreement of pairwise votes between every pair of judges. Where a judge voted more than
/// once on an item, every pair of votes counts (FastChat's convention).
pub fn pairwise_agreement(votes: &BTreeMap<String, Votes>) -> Agreement {
    let judges: Vec<&String> = votes.keys().collect();
    let adjusted = |v: &Votes| -> BTreeMap<String, f64> {
        let mut acc: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for ((_, _, a, b), vs) in v {
            for vote in vs {
                let (sa, sb) = match vote {
                    Vote::First => (1.0, 0.0),
                    Vote::Second => (0.0, 1.0),
                    Vote::Tie => (0.5, 0.5),
                };
                for (m, s) in [(a, sa), (b, sb)] {
                    let e = acc.entry(m.clone()).or_default();
                    e.0 += s;
                    e.1 += 1.0;
                }
            }
        }
        acc.into_iter().map(|(k, (s, n))| (k, s / n)).collect()
    };
    let mut pairs = Vec::new();
    for (i, ja) in judges.iter().enumerate() {
        for jb in &judges[i + 1..] {
            let (a, b) = (&votes[*ja], &votes[*jb]);
            let mut items: Vec<&Item> = a.keys().filter(|k| b.contains_key(*k)).collect();
            items.sort();
            let mut turned: Vec<(u32, Vote, Vote)> = Vec::new();
            for k in &items {
                for &va in &a[*k] {
                    for &vb in &b[*k] {
                        turned.push((k.1, va, vb));
                    }
                }
            }
            let (models, rs, rk) = rank_models(&adjusted(a), &adjusted(b));
            pairs.push(vote_pair(ja, jb, items.len(), &turned, (models, rs, rk)));
        }
    }
    // Within a group of voters (several votes on one item, as FastChat's human judgments
    // have): every pair of its votes on an item, as compute_agreement's `human human` counts.
    for j in &judges {
        let mut turned: Vec<(u32, Vote, Vote)> = Vec::new();
        let mut items = 0;
        let mut keys: Vec<&Item> = votes[*j].keys().collect();
        keys.sort();
        for k in keys {
            let vs = &votes[*j][k];
            if vs.len() >= 2 {
                items += 1;
            }
            for x in 0..vs.len() {
                for y in x + 1..vs.len() {
                    turned.push((k.1, vs[x], vs[y]));
                }
            }
        }
        if !turned.is_empty() {
            pairs.push(vote_pair(j, j, items, &turned, (0, None, None)));
        }
    }
    let figures = votes
        .iter()
        .map(|(j, v)| (j.clone(), adjusted(v)))
        .collect();
    Agreement {
        mode: "pairwise".into(),
        pairs,
        by_model: by_model(figures),
    }
}

/// One pair's figures from its vote pairs (with their turns) and model-ranking correlations.
fn vote_pair(
    ja: &str,
    jb: &str,
    items: usize,
    turned: &[(u32, Vote, Vote)],
    (models, rs, rk): (usize, Option<f64>, Option<f64>),
) -> JudgePair {
    let vote_pairs: Vec<(Vote, Vote)> = turned.iter().map(|p| (p.1, p.2)).collect();
    let (counts, by_turn) = vote_agreement(turned);
    JudgePair {
        judge_a: ja.to_string(),
        judge_b: jb.to_string(),
        n: items,
        agreement: super::ratio(counts.agreed, counts.total),
        agreement_without_ties: super::ratio(counts.agreed_without_ties, counts.total_without_ties),
        cohen_kappa: cohen_kappa(&vote_pairs),
        score_pearson: None,
        score_spearman: None,
        models,
        ranking_spearman: rs,
        ranking_kendall: rk,
        counts: Some(counts),
        by_turn,
    }
}

/// The judges seen, for messages.
pub fn judges_of(a: &BTreeMap<String, Votes>) -> BTreeSet<String> {
    a.keys().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_correlations() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(spearman(&x, &[10.0, 20.0, 30.0, 40.0]), Some(1.0));
        assert_eq!(kendall_tau_b(&x, &[4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        // One swapped pair out of six: tau = (5 − 1) / 6.
        let t = kendall_tau_b(&x, &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((t - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(ranks(&[5.0, 1.0, 5.0]), vec![2.5, 1.0, 2.5]);
    }

    #[test]
    fn kappa_by_hand() {
        // 10 items: both say A on 4, both B on 3, A/B on 2, B/A on 1.
        let mut p = Vec::new();
        p.extend(std::iter::repeat_n(('A', 'A'), 4));
        p.extend(std::iter::repeat_n(('B', 'B'), 3));
        p.extend(std::iter::repeat_n(('A', 'B'), 2));
        p.extend(std::iter::repeat_n(('B', 'A'), 1));
        // po = 0.7; pA = 0.6·0.5, pB = 0.4·0.5 → pe = 0.5; kappa = 0.4.
        assert!((cohen_kappa(&p).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(
            cohen_kappa(&[('A', 'A'), ('A', 'A')]),
            None,
            "no variation: undefined"
        );
    }
}
