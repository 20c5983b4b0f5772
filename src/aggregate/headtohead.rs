//! A head-to-head of two models (`shinpan compare A B`): A's wins, losses and ties against B
//! with an interval, per category, how often the judge's verdict held when the answers were
//! swapped, and the games behind the figures, by question id.

use std::collections::BTreeMap;

use serde::Serialize;

use super::answers::AnswerIndex;
use super::bootstrap::{BootstrapOptions, mean_interval};
use super::{GameOutcome, combine, ratio};
use crate::records::{Current, PairGame};
use crate::types::{QuestionId, Winner};

/// A's record against B over some games.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Record {
    /// Games A won in both orders.
    pub wins: usize,
    /// Games B won in both orders.
    pub losses: usize,
    /// Ties (either order said tie, or the orders disagree).
    pub ties: usize,
    /// (wins + ties/2) / games.
    pub adjusted_win_rate: Option<f64>,
}

impl Record {
    fn add(&mut self, score: f64) {
        match score {
            1.0 => self.wins += 1,
            0.0 => self.losses += 1,
            _ => self.ties += 1,
        }
    }

    fn finish(mut self) -> Self {
        let n = self.wins + self.losses + self.ties;
        self.adjusted_win_rate =
            (n > 0).then(|| (self.wins as f64 + 0.5 * self.ties as f64) / n as f64);
        self
    }
}

/// One game behind the figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Game {
    /// The question.
    pub question_id: QuestionId,
    /// The turn.
    pub turn: u32,
    /// Its category, when known.
    pub category: Option<String>,
    /// The verdict with A shown first: the model named, or `tie`.
    pub a_first: String,
    /// The verdict with B shown first.
    pub b_first: String,
}

/// A against B.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct HeadToHead {
    /// The model evaluated.
    pub a: String,
    /// The baseline.
    pub b: String,
    /// The judge.
    pub judge: String,
    /// Games with a verdict in both orders.
    pub games: usize,
    /// Games without one.
    pub errors: usize,
    /// A's record over all games.
    #[serde(flatten)]
    pub overall: Record,
    /// 95% bootstrap interval of the adjusted win rate.
    pub adjusted_win_rate_ci: Option<[f64; 2]>,
    /// Share of games whose two orders agree.
    pub position_consistency: Option<f64>,
    /// A's record per question category.
    pub categories: BTreeMap<String, Record>,
    /// How many games' verdict changed with the order of the answers.
    pub changed_with_order_games: usize,
    /// Those games (at most `show`).
    pub changed_with_order: Vec<Game>,
    /// Games A won in both orders.
    pub a_won: Vec<Game>,
    /// Games B won in both orders.
    pub b_won: Vec<Game>,
}

/// A against B over their games (either may be model_1), at most `show` games listed under
/// each heading.
pub fn head_to_head(
    rows: &[&PairGame],
    a: &str,
    b: &str,
    answers: &AnswerIndex,
    bootstrap: BootstrapOptions,
    show: usize,
) -> HeadToHead {
    let current = Current::games(rows);
    let mut h = HeadToHead {
        a: a.into(),
        b: b.into(),
        judge: rows
            .first()
            .map(|r| r.judge.model().to_string())
            .unwrap_or_default(),
        ..HeadToHead::default()
    };
    let mut scores = Vec::new();
    let mut agree = 0;
    for r in current.rows() {
        let a_is_1 = match (r.model_1 == a, r.model_2 == a) {
            (true, _) if r.model_2 == b => true,
            (_, true) if r.model_1 == b => false,
            _ => continue,
        };
        let (outcome, consistent) = combine(r.g1_winner, r.g2_winner);
        if outcome == GameOutcome::Error {
            h.errors += 1;
            continue;
        }
        h.games += 1;
        agree += usize::from(consistent);
        let score = match (outcome, a_is_1) {
            (GameOutcome::Model1, true) | (GameOutcome::Model2, false) => 1.0,
            (GameOutcome::Model2, true) | (GameOutcome::Model1, false) => 0.0,
            _ => 0.5,
        };
        scores.push(score);
        h.overall.add(score);
        let category = r
            .category
            .as_deref()
            .or_else(|| answers.category(r.question_id.as_str()))
            .map(str::to_string);
        if let Some(c) = &category {
            h.categories.entry(c.clone()).or_default().add(score);
        }
        let game = game(r, a_is_1, category);
        match (consistent, score) {
            (false, _) => h.changed_with_order.push(game),
            (true, 1.0) => h.a_won.push(game),
            (true, 0.0) => h.b_won.push(game),
            _ => {}
        }
    }
    h.overall = std::mem::take(&mut h.overall).finish();
    h.categories = std::mem::take(&mut h.categories)
        .into_iter()
        .map(|(c, r)| (c, r.finish()))
        .collect();
    h.adjusted_win_rate_ci = mean_interval(&scores, bootstrap, &format!("{a}\u{1f}{b}"));
    h.position_consistency = ratio(agree, h.games);
    h.changed_with_order_games = h.changed_with_order.len();
    for list in [&mut h.changed_with_order, &mut h.a_won, &mut h.b_won] {
        list.sort_by(|x, y| (&x.question_id, x.turn).cmp(&(&y.question_id, y.turn)));
        if show > 0 {
            list.truncate(show);
        }
    }
    h
}

/// A game as listed: who won with A shown first, and with B shown first.
fn game(r: &PairGame, a_is_1: bool, category: Option<String>) -> Game {
    let name = |w: Winner| match w {
        Winner::Model1 => r.model_1.clone(),
        Winner::Model2 => r.model_2.clone(),
        Winner::Tie => "tie".into(),
        Winner::Error => "error".into(),
    };
    // g1 shows model_1 first.
    let (a_first, b_first) = if a_is_1 {
        (r.g1_winner, r.g2_winner)
    } else {
        (r.g2_winner, r.g1_winner)
    };
    Game {
        question_id: r.question_id.clone(),
        turn: r.turn,
        category,
        a_first: name(a_first).to_string(),
        b_first: name(b_first).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(q: u32, m1: &str, m2: &str, g1: &str, g2: &str) -> PairGame {
        serde_json::from_value(serde_json::json!({
            "question_id": q, "model_1": m1, "model_2": m2, "g1_winner": g1, "g2_winner": g2,
            "judge": ["j", "pair"], "turn": 1, "category": if q.is_multiple_of(2) { "math" } else { "writing" }
        }))
        .unwrap()
    }

    #[test]
    fn a_is_counted_from_its_side_whichever_position_it_held() {
        let rows = [
            game(1, "a", "b", "model_1", "model_1"), // A won both orders
            game(2, "b", "a", "model_2", "model_2"), // A (model_2) won both orders
            game(3, "b", "a", "model_1", "model_1"), // B won
            game(4, "b", "a", "model_1", "model_2"), // each order favoured the first shown
            game(5, "a", "c", "model_1", "model_1"), // not A against B
            game(6, "a", "b", "error", "model_1"),   // no verdict in one order
        ];
        let refs: Vec<&PairGame> = rows.iter().collect();
        let h = head_to_head(
            &refs,
            "a",
            "b",
            &AnswerIndex::default(),
            BootstrapOptions::default(),
            10,
        );
        assert_eq!((h.games, h.errors), (4, 1));
        assert_eq!(
            (h.overall.wins, h.overall.losses, h.overall.ties),
            (2, 1, 1)
        );
        assert_eq!(h.overall.adjusted_win_rate, Some(0.625));
        assert_eq!(h.position_consistency, Some(0.75));
        assert_eq!(h.categories["math"].wins, 1);
        // Game 4: with A (model_2) shown first, g2 says model_2 won: A. With B first, B.
        let g = &h.changed_with_order[0];
        assert_eq!((g.a_first.as_str(), g.b_first.as_str()), ("a", "b"));
        assert_eq!(h.a_won.len(), 2);
        assert_eq!(h.b_won[0].question_id.as_str(), "3");
        let [lo, hi] = h.adjusted_win_rate_ci.unwrap();
        assert!(lo <= 0.625 && 0.625 <= hi);
    }
}
