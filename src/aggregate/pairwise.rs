//! Pairwise summaries: wins, losses and ties after combining both orders of each game.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::ratio;
use crate::judge::{PairJudgment, Winner};

/// The combined result of both orders of one game.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameOutcome {
    /// Both orders agree that `model_1` won.
    Model1,
    /// Both orders agree that `model_2` won.
    Model2,
    /// A tie: either order said tie, or the orders disagree.
    Tie,
    /// At least one order has no verdict; the game is left out of every rate.
    Error,
}

/// FastChat's swap rule. Returns the outcome and whether the two orders agree (undefined, and
/// reported `false`, for error games).
pub fn combine(g1: Winner, g2: Winner) -> (GameOutcome, bool) {
    match (g1, g2) {
        (Winner::Error, _) | (_, Winner::Error) => (GameOutcome::Error, false),
        (a, b) if a != b => (GameOutcome::Tie, false),
        (Winner::Model1, _) => (GameOutcome::Model1, true),
        (Winner::Model2, _) => (GameOutcome::Model2, true),
        _ => (GameOutcome::Tie, true),
    }
}

/// One model's pairwise figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairSummary {
    /// The model.
    pub model: String,
    /// Games with a verdict in both orders.
    pub n: usize,
    /// Games left out because an order has no verdict.
    pub errors: usize,
    /// Games won.
    pub wins: usize,
    /// Games lost.
    pub losses: usize,
    /// Games tied (including orders that disagree).
    pub ties: usize,
    /// wins / n.
    pub win_rate: Option<f64>,
    /// losses / n.
    pub loss_rate: Option<f64>,
    /// (wins + ties / 2) / n.
    pub adjusted_win_rate: Option<f64>,
    /// Share of games whose two orders gave the same verdict.
    pub position_consistency: Option<f64>,
}

#[derive(Default)]
struct Tally {
    wins: usize,
    losses: usize,
    ties: usize,
    errors: usize,
    consistent: usize,
}

/// Summarises pairwise games per model, best first. With a baseline, only games against it
/// count and the baseline itself is not listed (each row is from the other model's side,
/// whichever position the baseline held); without one, every game counts for both players.
pub fn summarize_pairs(rows: &[PairJudgment], baseline: Option<&str>) -> Vec<PairSummary> {
    let judged: HashSet<(&str, &str, &str, u32, &str)> = rows
        .iter()
        .filter(|r| combine(r.g1_winner, r.g2_winner).0 != GameOutcome::Error)
        .map(key)
        .collect();
    let mut tallies: HashMap<&str, Tally> = HashMap::new();
    let mut order: BTreeSet<&str> = BTreeSet::new();
    for r in rows {
        if let Some(b) = baseline
            && r.model_1 != b
            && r.model_2 != b
        {
            continue;
        }
        let (outcome, consistent) = combine(r.g1_winner, r.g2_winner);
        if outcome == GameOutcome::Error && judged.contains(&key(r)) {
            continue; // a failure that a later row retried successfully
        }
        for (me, my_win) in [
            (r.model_1.as_str(), GameOutcome::Model1),
            (r.model_2.as_str(), GameOutcome::Model2),
        ] {
            if baseline == Some(me) {
                continue;
            }
            order.insert(me);
            let t = tallies.entry(me).or_default();
            match outcome {
                GameOutcome::Error => t.errors += 1,
                GameOutcome::Tie => t.ties += 1,
                o if o == my_win => t.wins += 1,
                _ => t.losses += 1,
            }
            if outcome != GameOutcome::Error && consistent {
                t.consistent += 1;
            }
        }
    }
    let mut out: Vec<PairSummary> = order
        .into_iter()
        .map(|model| {
            let t = &tallies[model];
            let n = t.wins + t.losses + t.ties;
            PairSummary {
                model: model.to_string(),
                n,
                errors: t.errors,
                wins: t.wins,
                losses: t.losses,
                ties: t.ties,
                win_rate: ratio(t.wins, n),
                loss_rate: ratio(t.losses, n),
                adjusted_win_rate: (n > 0)
                    .then(|| (t.wins as f64 + 0.5 * t.ties as f64) / n as f64),
                position_consistency: ratio(t.consistent, n),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.adjusted_win_rate
            .unwrap_or(-1.0)
            .total_cmp(&a.adjusted_win_rate.unwrap_or(-1.0))
            .then_with(|| a.model.cmp(&b.model))
    });
    out
}

fn key(r: &PairJudgment) -> (&str, &str, &str, u32, &str) {
    (
        r.question_id.0.as_str(),
        r.model_1.as_str(),
        r.model_2.as_str(),
        r.turn,
        r.judge.model(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Winner::*;

    #[test]
    fn swap_rule() {
        assert_eq!(combine(Model1, Model1), (GameOutcome::Model1, true));
        assert_eq!(combine(Model2, Model2), (GameOutcome::Model2, true));
        assert_eq!(combine(Tie, Tie), (GameOutcome::Tie, true));
        assert_eq!(combine(Model1, Model2), (GameOutcome::Tie, false));
        assert_eq!(combine(Tie, Model1), (GameOutcome::Tie, false));
        assert_eq!(combine(Model1, Error).0, GameOutcome::Error);
        assert_eq!(combine(Error, Tie).0, GameOutcome::Error);
    }
}
