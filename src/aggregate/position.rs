//! Position bias: how often the two orders of a game agree, how often the answer shown first
//! wins a decisive verdict, and a Bradley-Terry fit with a home-advantage term (as Rakuda
//! does) that estimates the judge's preference for the first position in Elo points.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::bootstrap::{BootstrapOptions, interval, resample_counts, rng_for};
use super::bt::{ELO_PER_NAT, Obs, PRIOR_TIES, fit, home_prior_bound, win_probability};
use super::ratio;
use crate::records::PairGame;
use crate::types::QuestionId;
use crate::types::Winner;

/// A game whose two orders disagree.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InconsistentGame {
    /// The question.
    pub question_id: QuestionId,
    /// The first model of the pair (shown first in game 1).
    pub model_1: String,
    /// The second model (shown first in game 2).
    pub model_2: String,
    /// The turn.
    pub turn: u32,
    /// Verdict with model_1 shown first.
    pub g1_winner: Winner,
    /// Verdict with model_2 shown first.
    pub g2_winner: Winner,
}

/// The position-bias figures of one judge over a set of games.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct PositionBias {
    /// Games with a verdict in both orders.
    pub games: usize,
    /// Share of those whose two orders agree.
    pub consistency: Option<f64>,
    /// Single-order verdicts that named a winner (not a tie).
    pub decisive_verdicts: usize,
    /// Share of decisive verdicts won by the answer shown first (0.5 = no bias).
    pub first_position_win_rate: Option<f64>,
    /// The first position's advantage in Elo points, from a Bradley-Terry fit with a
    /// position term over single-order verdicts; `null` when the verdicts do not bound it.
    pub home_advantage_elo: Option<f64>,
    /// 95% bootstrap interval (resampling games).
    pub home_advantage_ci: Option<[f64; 2]>,
    /// The win probability of the first position between equally strong answers.
    pub first_position_win_probability: Option<f64>,
    /// Why the home advantage is `null`: in some order of a pairing one position won (or
    /// lost) every verdict, and no other pairing bounds the term, so only the prior would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_advantage_not_estimable: Option<String>,
    /// How many games' orders disagree.
    pub inconsistent_games: usize,
    /// Those games, by question, turn and models (at most `--max-listed` of them).
    pub inconsistent: Vec<InconsistentGame>,
}

/// Index of a single-order result: the first-shown model wins, the second wins, tie.
fn slot(w: Winner, first_is_model_1: bool) -> usize {
    match (w, first_is_model_1) {
        (Winner::Model1, true) | (Winner::Model2, false) => 0,
        (Winner::Model2, true) | (Winner::Model1, false) => 1,
        _ => 2,
    }
}

/// Why the position term is not bounded: the orders of pairings in which one position won or
/// lost every single-order verdict.
fn sweep_reason(obs: &[Obs], names: &[&str]) -> String {
    let swept: Vec<String> = obs
        .iter()
        .filter(|o| o.wins_a == 0.0 || o.wins_a == o.n)
        .map(|o| {
            let who = if o.wins_a == o.n { "first" } else { "second" };
            format!(
                "with {} shown first against {}, the {who}-shown answer won all {} verdicts",
                names[o.a], names[o.b], o.n
            )
        })
        .collect();
    format!(
        "{}; no other pairing bounds the position term, so only the prior would",
        swept.join("; ")
    )
}

/// Measures position bias over games (error games are left out); `names` are the models by
/// their index.
pub fn measure_position(
    games: &[&PairGame],
    index: &HashMap<&str, usize>,
    names: &[&str],
    opts: BootstrapOptions,
    max_listed: usize,
) -> PositionBias {
    let mut out = PositionBias::default();
    let mut inconsistent: Vec<&PairGame> = Vec::new();
    let mut agree = 0;
    let mut first_wins = 0;
    // Per ordered pair (model_1, model_2): counts of the 9 (g1 slot, g2 slot) combinations.
    let mut cells: BTreeMap<(usize, usize), [u64; 9]> = BTreeMap::new();
    for r in games {
        // Position bias needs both orders of a game.
        if r.one_order || r.g1_winner == Winner::Error || r.g2_winner == Winner::Error {
            continue;
        }
        out.games += 1;
        if r.g1_winner == r.g2_winner {
            agree += 1;
        } else {
            inconsistent.push(*r);
        }
        let (s1, s2) = (slot(r.g1_winner, true), slot(r.g2_winner, false));
        for s in [s1, s2] {
            if s != 2 {
                out.decisive_verdicts += 1;
                if s == 0 {
                    first_wins += 1;
                }
            }
        }
        let key = (index[r.model_1.as_str()], index[r.model_2.as_str()]);
        cells.entry(key).or_default()[s1 * 3 + s2] += 1;
    }
    out.inconsistent_games = inconsistent.len();
    let order = |a: &&PairGame, b: &&PairGame| {
        (&a.question_id, a.turn, &a.model_1, &a.model_2).cmp(&(
            &b.question_id,
            b.turn,
            &b.model_1,
            &b.model_2,
        ))
    };
    // Only the listed games are sorted: a million games may disagree by the hundred thousand.
    if max_listed > 0 && inconsistent.len() > max_listed {
        inconsistent.select_nth_unstable_by(max_listed, order);
        inconsistent.truncate(max_listed);
    }
    inconsistent.sort_by(order);
    out.inconsistent = inconsistent
        .into_iter()
        .map(|r| InconsistentGame {
            question_id: r.question_id.clone(),
            model_1: r.model_1.to_string(),
            model_2: r.model_2.to_string(),
            turn: r.turn,
            g1_winner: r.g1_winner,
            g2_winner: r.g2_winner,
        })
        .collect();
    out.consistency = ratio(agree, out.games);
    out.first_position_win_rate = ratio(first_wins, out.decisive_verdicts);
    if out.games > 0 {
        home_advantage(&mut out, &cells, names, opts);
    }
    out
}

/// The single-order verdicts of each ordered pairing as Bradley-Terry observations with a
/// home term: order 1 shows model_1 first, order 2 shows model_2 first. `counts` holds the 9
/// (g1 slot, g2 slot) combinations of each pairing in `keys`, in order.
fn ordered_obs(keys: &[(usize, usize)], counts: &[u64]) -> Vec<Obs> {
    let mut obs = Vec::with_capacity(keys.len() * 2);
    for (p, &(m1, m2)) in keys.iter().enumerate() {
        let mut o1 = Obs {
            a: m1,
            b: m2,
            wins_a: 0.0,
            n: 0.0,
            home: 1.0,
        };
        let mut o2 = Obs { a: m2, b: m1, ..o1 };
        for s1 in 0..3 {
            for s2 in 0..3 {
                let c = counts[p * 9 + s1 * 3 + s2] as f64;
                o1.n += c;
                o2.n += c;
                o1.wins_a += c * [1.0, 0.0, 0.5][s1];
                o2.wins_a += c * [1.0, 0.0, 0.5][s2];
            }
        }
        obs.extend([o1, o2].into_iter().filter(|o| o.n > 0.0));
    }
    obs
}

/// The first position's advantage in Elo with its interval, or why it is not estimable.
fn home_advantage(
    out: &mut PositionBias,
    cells: &BTreeMap<(usize, usize), [u64; 9]>,
    names: &[&str],
    opts: BootstrapOptions,
) {
    let k = names.len();
    let keys: Vec<(usize, usize)> = cells.keys().copied().collect();
    let counts: Vec<u64> = cells.values().flat_map(|c| c.iter().copied()).collect();
    let obs = ordered_obs(&keys, &counts);
    if home_prior_bound(k, &obs, 0) {
        out.home_advantage_not_estimable = Some(sweep_reason(&obs, names));
        return;
    }
    let home_of = |counts: &[u64]| {
        fit(k, &ordered_obs(&keys, counts), 0, true, PRIOR_TIES).home * ELO_PER_NAT
    };
    let home = home_of(&counts);
    out.home_advantage_elo = Some(home);
    out.first_position_win_probability = Some(win_probability(home));
    if opts.rounds > 0 {
        let mut rng = rng_for(opts.seed, "position");
        let samples = (0..opts.rounds)
            .map(|_| home_of(&resample_counts(&counts, &mut rng)))
            .collect();
        out.home_advantage_ci = interval(samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(q: u32, turn: u32, m1: &str, m2: &str, g1: &str, g2: &str) -> PairGame {
        serde_json::from_value(serde_json::json!({
            "question_id": q, "model_1": m1, "model_2": m2, "g1_winner": g1, "g2_winner": g2,
            "judge": ["j", "pair"], "turn": turn
        }))
        .unwrap()
    }

    #[test]
    fn the_listed_inconsistent_games_are_the_first_by_question_turn_and_models() {
        let rows = [
            game(9, 1, "a", "b", "model_1", "model_2"),
            game(2, 2, "a", "b", "model_1", "model_2"),
            game(2, 1, "b", "c", "model_1", "tie"),
            game(1, 1, "a", "b", "model_1", "model_1"), // consistent
            game(2, 1, "a", "b", "tie", "model_2"),
            game(10, 1, "a", "b", "model_1", "model_2"),
        ];
        let refs: Vec<&PairGame> = rows.iter().collect();
        let names = ["a", "b", "c"];
        let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let opts = BootstrapOptions { rounds: 0, seed: 0 };
        let listed = |max| {
            measure_position(&refs, &index, &names, opts, max)
                .inconsistent
                .iter()
                .map(|g| {
                    format!(
                        "{}/{}/{}-{}",
                        g.question_id.as_str(),
                        g.turn,
                        g.model_1,
                        g.model_2
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(listed(3), ["2/1/a-b", "2/1/b-c", "2/2/a-b"]);
        // 0 lists them all; ids compare as numbers (10 after 9).
        assert_eq!(
            listed(0),
            ["2/1/a-b", "2/1/b-c", "2/2/a-b", "9/1/a-b", "10/1/a-b"]
        );
        assert_eq!(
            measure_position(&refs, &index, &names, opts, 3).inconsistent_games,
            5
        );
    }
}
