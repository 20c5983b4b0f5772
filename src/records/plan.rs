//! Which games a run with many models plays when all pairs would cost too much. A game is a
//! question and a pair of models (every turn of it judged, in both orders).
//!
//! - `pairwise-n` (Rakuda's mode): `n` games drawn without replacement from all of them.
//! - `pairwise-adaptive`: a few games for every pair first, then rounds of games between the
//!   models next to each other in the ranking whose order is least certain, until every
//!   neighbour's order holds at the stated confidence (or the budget is spent).
//!
//! Both draw from one seeded order of all games: each game's rank is a hash of the seed, the
//! question id and the two model names. So a plan depends on the seed and the names, not on
//! the order models are listed in, and a larger `n` plays the same games and more (a run asked
//! for more games resumes the smaller one).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How the games of a pairwise run among all its models are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GamePlan {
    /// `n` games drawn at random (seeded) from every question and pair.
    Sample {
        /// Games to play.
        games: u64,
        /// The seed of the draw.
        seed: u64,
    },
    /// Games spent where the ranking is least settled.
    Adaptive {
        /// At most this many games.
        budget: u64,
        /// The ranking is settled when the order of each pair of neighbours is this probable.
        confidence: f64,
        /// The seed of the draw and the bootstrap.
        seed: u64,
    },
}

impl GamePlan {
    /// The seed.
    pub fn seed(&self) -> u64 {
        match *self {
            GamePlan::Sample { seed, .. } | GamePlan::Adaptive { seed, .. } => seed,
        }
    }

    /// The mode's name on the command line.
    pub fn mode_name(&self) -> &'static str {
        match self {
            GamePlan::Sample { .. } => "pairwise-n",
            GamePlan::Adaptive { .. } => "pairwise-adaptive",
        }
    }
}

/// A game: question index, and the two models' indexes (the one listed first is `m1`).
pub type Game = (usize, usize, usize);

/// Every game of `questions` (ids) and `models` (names), in the seed's order.
pub fn game_order(seed: u64, questions: &[String], models: &[String]) -> Vec<Game> {
    let mut ranked: Vec<(u64, Game)> = Vec::new();
    for (q, qid) in questions.iter().enumerate() {
        for m1 in 0..models.len() {
            for m2 in m1 + 1..models.len() {
                let (a, b) = if models[m1] <= models[m2] {
                    (&models[m1], &models[m2])
                } else {
                    (&models[m2], &models[m1])
                };
                let mut h = Sha256::new();
                h.update(seed.to_le_bytes());
                for part in [qid, a, b] {
                    h.update(part.as_bytes());
                    h.update([0x1f]);
                }
                let d = h.finalize();
                let rank = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
                ranked.push((rank, (q, m1, m2)));
            }
        }
    }
    ranked.sort_unstable();
    ranked.into_iter().map(|(_, g)| g).collect()
}

/// The `n` games of `pairwise-n` (all of them when there are fewer).
pub fn sample_games(seed: u64, questions: &[String], models: &[String], n: u64) -> Vec<Game> {
    let mut all = game_order(seed, questions, models);
    all.truncate(n.min(all.len() as u64) as usize);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_draw_is_fixed_by_its_seed_and_grows_by_adding_games() {
        let qs: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
        let ms = names(&["a", "b", "c", "d"]);
        let ten = sample_games(7, &qs, &ms, 10);
        assert_eq!(ten, sample_games(7, &qs, &ms, 10), "reproducible");
        assert_ne!(
            ten,
            sample_games(8, &qs, &ms, 10),
            "another seed, other games"
        );
        assert_eq!(
            &sample_games(7, &qs, &ms, 30)[..10],
            &ten[..],
            "more games extend it"
        );
        let mut distinct = ten.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "no game twice");
        assert_eq!(
            sample_games(7, &qs, &ms, 1000).len(),
            20 * 6,
            "at most every game"
        );
        // Listing the models in another order draws the same games.
        let swapped = names(&["d", "c", "b", "a"]);
        let by_name = |g: &[Game], ms: &[String]| -> Vec<(usize, String, String)> {
            let mut v: Vec<_> = g
                .iter()
                .map(|&(q, a, b)| {
                    let (x, y) = (ms[a].clone(), ms[b].clone());
                    (q, x.clone().min(y.clone()), x.max(y))
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            by_name(&ten, &ms),
            by_name(&sample_games(7, &qs, &swapped, 10), &swapped)
        );
    }
}
