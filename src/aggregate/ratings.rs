//! Bradley-Terry ratings of combined game outcomes, with bootstrap intervals over games.

use std::collections::BTreeMap;

use super::GameOutcome;
use super::bootstrap::{BootstrapOptions, interval, resample_counts, rng_for};
use super::bt::{Obs, elo, fit, win_probability};

/// Ratings of every model (by index), with intervals.
#[derive(Debug, Clone, Default)]
pub struct Ratings {
    /// Elo-scale rating per model.
    pub rating: Vec<f64>,
    /// 95% interval per model.
    pub rating_ci: Vec<Option<[f64; 2]>>,
    /// Predicted win rate against the anchor (the baseline), per model.
    pub predicted: Vec<Option<f64>>,
    /// Its 95% interval.
    pub predicted_ci: Vec<Option<[f64; 2]>>,
}

/// Per unordered pair (i < j): wins of i, wins of j, ties.
type Cells = BTreeMap<(usize, usize), [u64; 3]>;

fn cells(outcomes: &[(usize, usize, GameOutcome)]) -> Cells {
    let mut c: Cells = BTreeMap::new();
    for &(a, b, o) in outcomes {
        let (i, j, flip) = if a < b { (a, b, false) } else { (b, a, true) };
        let slot = match (o, flip) {
            (GameOutcome::Model1, false) | (GameOutcome::Model2, true) => 0,
            (GameOutcome::Model2, false) | (GameOutcome::Model1, true) => 1,
            _ => 2,
        };
        c.entry((i, j)).or_default()[slot] += 1;
    }
    c
}

fn observations(keys: &[(usize, usize)], counts: &[u64]) -> Vec<Obs> {
    keys.iter()
        .enumerate()
        .filter_map(|(p, &(i, j))| {
            let [w, l, t] = [counts[3 * p], counts[3 * p + 1], counts[3 * p + 2]];
            let n = (w + l + t) as f64;
            (n > 0.0).then_some(Obs {
                a: i,
                b: j,
                wins_a: w as f64 + 0.5 * t as f64,
                n,
                home: 0.0,
            })
        })
        .collect()
}

/// Fits ratings for `k` models; `anchor` (the baseline) is pinned at 1000, or else the mean.
pub fn rate(
    k: usize,
    outcomes: &[(usize, usize, GameOutcome)],
    anchor: Option<usize>,
    opts: BootstrapOptions,
) -> Ratings {
    if k == 0 || outcomes.is_empty() {
        return Ratings::default();
    }
    let c = cells(outcomes);
    let keys: Vec<(usize, usize)> = c.keys().copied().collect();
    let counts: Vec<u64> = c.values().flat_map(|v| v.iter().copied()).collect();
    let fit_anchor = anchor.unwrap_or(0);
    let solve = |counts: &[u64]| {
        elo(
            &fit(k, &observations(&keys, counts), fit_anchor, false),
            anchor,
        )
    };
    let rating = solve(&counts);
    let predicted_of = |r: &[f64]| -> Vec<Option<f64>> {
        (0..k)
            .map(|i| anchor.map(|a| win_probability(r[i] - r[a])))
            .collect()
    };
    let predicted = predicted_of(&rating);
    let mut rating_ci = vec![None; k];
    let mut predicted_ci = vec![None; k];
    if opts.rounds > 0 {
        let mut rng = rng_for(opts.seed, "bradley-terry");
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(opts.rounds); k];
        let mut pred_samples: Vec<Vec<f64>> = vec![Vec::with_capacity(opts.rounds); k];
        for _ in 0..opts.rounds {
            let r = solve(&resample_counts(&counts, &mut rng));
            for i in 0..k {
                samples[i].push(r[i]);
            }
            for (i, p) in predicted_of(&r).into_iter().enumerate() {
                if let Some(p) = p {
                    pred_samples[i].push(p);
                }
            }
        }
        for i in 0..k {
            rating_ci[i] = interval(std::mem::take(&mut samples[i]));
            if anchor.is_some() {
                predicted_ci[i] = interval(std::mem::take(&mut pred_samples[i]));
            }
        }
    }
    Ratings {
        rating,
        rating_ci,
        predicted,
        predicted_ci,
    }
}
