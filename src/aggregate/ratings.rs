//! Bradley-Terry ratings of combined game outcomes, with bootstrap intervals over games. A
//! model whose games do not bound its rating (it won, or lost, every game linking it to the
//! baseline or the main group) gets no rating, no interval and the reason instead.

use std::collections::BTreeMap;

use super::GameOutcome;
use rand_chacha::ChaCha8Rng;

use super::bootstrap::{BootstrapOptions, interval, resample_counts, rng_for};
use super::bt::{Obs, PRIOR_TIES, components, difference_sds, elo, fit, win_probability};

/// Ratings of every model (by index), with intervals.
#[derive(Debug, Clone, Default)]
pub struct Ratings {
    /// Elo-scale rating per model (`None`: not estimable).
    pub rating: Vec<Option<f64>>,
    /// 95% interval per model.
    pub rating_ci: Vec<Option<[f64; 2]>>,
    /// Predicted win rate against the anchor (the baseline), per model.
    pub predicted: Vec<Option<f64>>,
    /// Its 95% interval.
    pub predicted_ci: Vec<Option<[f64; 2]>>,
    /// Why a model's rating is not estimable.
    pub not_estimable: Vec<Option<String>>,
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

/// Why a model outside the reference group has no finite rating.
fn reason(i: usize, keys: &[(usize, usize)], counts: &[u64], anchored: bool) -> String {
    let (mut won, mut lost, mut games) = (0u64, 0u64, 0u64);
    for (p, &(a, b)) in keys.iter().enumerate() {
        let [w, l, t] = [counts[3 * p], counts[3 * p + 1], counts[3 * p + 2]];
        if a == i {
            (won, lost) = (won + w + t, lost + l + t);
        } else if b == i {
            (won, lost) = (won + l + t, lost + w + t);
        } else {
            continue;
        }
        games += w + l + t;
    }
    let group = if anchored {
        "the baseline"
    } else {
        "the other models"
    };
    if lost == 0 {
        format!(
            "won all {games} of its games (no loss or tie): the data put no upper bound on its rating"
        )
    } else if won == 0 {
        format!(
            "lost all {games} of its games (no win or tie): the data put no lower bound on its rating"
        )
    } else {
        format!(
            "its group of models won or lost every game against {group}: the data put no bound on the gap"
        )
    }
}

/// Fits ratings for `k` models; `anchor` (the baseline) is pinned at 1000, or else the mean
/// of the models whose ratings the data bound.
pub fn rate(
    k: usize,
    outcomes: &[(usize, usize, GameOutcome)],
    anchor: Option<usize>,
    opts: BootstrapOptions,
) -> Ratings {
    rate_redrawing(k, outcomes, anchor, opts, None)
}

/// Draws one bootstrap round's outcomes before its games are resampled: a panel's redraw of
/// its judges, each game pooled over the judges drawn.
pub type Redraw<'a> = &'a dyn Fn(&mut ChaCha8Rng) -> Vec<(usize, usize, GameOutcome)>;

/// [`rate`], with each bootstrap round's games first redrawn by `redraw` (the same games,
/// their outcomes as another draw of the judges pools them), then resampled.
pub fn rate_redrawing(
    k: usize,
    outcomes: &[(usize, usize, GameOutcome)],
    anchor: Option<usize>,
    opts: BootstrapOptions,
    redraw: Option<Redraw>,
) -> Ratings {
    if k == 0 || outcomes.is_empty() {
        return Ratings::default();
    }
    let c = cells(outcomes);
    let keys: Vec<(usize, usize)> = c.keys().copied().collect();
    let counts: Vec<u64> = c.values().flat_map(|v| v.iter().copied()).collect();
    // The reference group: the anchor's component, or else the largest one.
    let comp = components(k, &observations(&keys, &counts));
    let reference = match anchor {
        Some(a) => comp[a],
        None => {
            let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
            for &g in &comp {
                *sizes.entry(g).or_default() += 1;
            }
            let best = sizes.values().copied().max().unwrap_or(0);
            sizes
                .into_iter()
                .find(|&(_, n)| n == best)
                .map(|(g, _)| g)
                .unwrap_or(0)
        }
    };
    let estimable: Vec<bool> = comp.iter().map(|&g| g == reference).collect();
    let fit_anchor = anchor.unwrap_or_else(|| estimable.iter().position(|e| *e).unwrap_or(0));
    // Ratings on the Elo scale, the anchor (or the reference group's mean) at 1000.
    let solve = |counts: &[u64]| -> Vec<f64> {
        let f = fit(
            k,
            &observations(&keys, counts),
            fit_anchor,
            false,
            PRIOR_TIES,
        );
        let r = elo(&f, Some(fit_anchor));
        match anchor {
            Some(_) => r,
            None => {
                let group: Vec<f64> = (0..k).filter(|&i| estimable[i]).map(|i| r[i]).collect();
                let shift = group.iter().sum::<f64>() / group.len().max(1) as f64 - 1000.0;
                r.into_iter().map(|x| x - shift).collect()
            }
        }
    };
    let rating = solve(&counts);
    let predicted_of = |r: &[f64], i: usize| anchor.map(|a| win_probability(r[i] - r[a]));
    let mut out = Ratings {
        rating: (0..k).map(|i| estimable[i].then_some(rating[i])).collect(),
        rating_ci: vec![None; k],
        predicted: (0..k)
            .map(|i| predicted_of(&rating, i).filter(|_| estimable[i]))
            .collect(),
        predicted_ci: vec![None; k],
        not_estimable: (0..k)
            .map(|i| (!estimable[i]).then(|| reason(i, &keys, &counts, anchor.is_some())))
            .collect(),
    };
    if opts.rounds > 0 {
        let mut rng = rng_for(opts.seed, "bradley-terry");
        let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(opts.rounds); k];
        let mut pred_samples: Vec<Vec<f64>> = vec![Vec::with_capacity(opts.rounds); k];
        for _ in 0..opts.rounds {
            let drawn = match redraw {
                Some(redraw) => {
                    let c = cells(&redraw(&mut rng));
                    keys.iter()
                        .flat_map(|k| c.get(k).copied().unwrap_or_default())
                        .collect()
                }
                None => counts.clone(),
            };
            let r = solve(&resample_counts(&drawn, &mut rng));
            for i in (0..k).filter(|&i| estimable[i]) {
                samples[i].push(r[i]);
                if let Some(p) = predicted_of(&r, i) {
                    pred_samples[i].push(p);
                }
            }
        }
        for i in (0..k).filter(|&i| estimable[i]) {
            out.rating_ci[i] = interval(std::mem::take(&mut samples[i]));
            if anchor.is_some() {
                out.predicted_ci[i] = interval(std::mem::take(&mut pred_samples[i]));
            }
        }
    }
    out
}

/// Where `k` models stand on the games so far: their order by Bradley-Terry strength (best
/// first), and for each pair of neighbours in it, how sure the games make that order: the
/// probability that the better one is the stronger, from the fit's curvature with its prior
/// (the Laplace approximation, which counts indirect games too). A bootstrap of a handful of
/// games would be sure too soon: four wins in four resample to four wins every time. What
/// `pairwise-adaptive` spends games on (the least certain neighbours) and stops by (every
/// neighbour at its confidence).
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// Model indexes, strongest first.
    pub order: Vec<usize>,
    /// `confidence[i]`: the probability that `order[i]` is stronger than `order[i + 1]`.
    pub confidence: Vec<f64>,
}

/// The [`Standing`] of `k` models after `outcomes`.
pub fn standing(k: usize, outcomes: &[(usize, usize, GameOutcome)]) -> Standing {
    let c = cells(outcomes);
    let keys: Vec<(usize, usize)> = c.keys().copied().collect();
    let counts: Vec<u64> = c.values().flat_map(|v| v.iter().copied()).collect();
    let obs = observations(&keys, &counts);
    // The prior's virtual ties keep every strength finite, even for a model that won all.
    let f = fit(k, &obs, 0, false, PRIOR_TIES);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| f.beta[b].total_cmp(&f.beta[a]).then(a.cmp(&b)));
    // One curvature for every neighbour pair.
    let pairs: Vec<(usize, usize)> = order.windows(2).map(|p| (p[0], p[1])).collect();
    let sds = difference_sds(k, &obs, 0, PRIOR_TIES, &f, &pairs);
    let confidence = pairs
        .iter()
        .zip(sds)
        .map(|(&(a, b), sd)| normal_cdf((f.beta[a] - f.beta[b]) / sd))
        .collect();
    Standing { order, confidence }
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26, within 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return 0.5;
    }
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GameOutcome::*;

    fn games(a: usize, b: usize, o: GameOutcome, n: usize) -> Vec<(usize, usize, GameOutcome)> {
        vec![(a, b, o); n]
    }

    #[test]
    fn an_even_record_rates_equal_with_an_interval_around_it() {
        let mut g = games(0, 1, Model1, 16);
        g.extend(games(0, 1, Model2, 16));
        let r = rate(2, &g, Some(1), BootstrapOptions::default());
        assert!((r.rating[0].unwrap() - 1000.0).abs() < 1e-6);
        let [lo, hi] = r.rating_ci[0].unwrap();
        assert!(lo < 1000.0 && hi > 1000.0 && hi - lo > 100.0, "{lo} {hi}");
        assert!(r.not_estimable[0].is_none());
    }

    #[test]
    fn a_model_that_lost_everything_is_not_estimable() {
        let r = rate(
            2,
            &games(0, 1, Model2, 32),
            Some(1),
            BootstrapOptions::default(),
        );
        assert_eq!(r.rating[0], None);
        assert_eq!(r.rating_ci[0], None);
        assert_eq!(r.predicted[0], None);
        let why = r.not_estimable[0].as_deref().unwrap();
        assert!(why.contains("lost all 32"), "{why}");
        assert_eq!(
            r.rating[1],
            Some(1000.0),
            "the baseline itself stays the anchor"
        );
    }

    #[test]
    fn with_all_pairs_the_main_group_is_rated_and_the_outlier_explained() {
        // 0 and 1 trade wins; 2 beat both every time.
        let mut g = games(0, 1, Model1, 5);
        g.extend(games(0, 1, Model2, 5));
        g.extend(games(2, 0, Model1, 10));
        g.extend(games(2, 1, Model1, 10));
        let r = rate(3, &g, None, BootstrapOptions::default());
        assert!((r.rating[0].unwrap() - 1000.0).abs() < 1e-6);
        assert!((r.rating[1].unwrap() - 1000.0).abs() < 1e-6);
        assert_eq!(r.rating[2], None);
        assert!(
            r.not_estimable[2]
                .as_deref()
                .unwrap()
                .contains("won all 20")
        );
    }

    #[test]
    fn a_standing_is_sure_of_clear_gaps_and_not_of_close_ones() {
        // 0 beats 1 nine times in ten, 1 and 2 are even.
        let mut g = games(0, 1, Model1, 18);
        g.extend(games(0, 1, Model2, 2));
        g.extend(games(1, 2, Model1, 10));
        g.extend(games(1, 2, Model2, 10));
        g.extend(games(0, 2, Model1, 18));
        g.extend(games(0, 2, Model2, 2));
        let s = standing(3, &g);
        assert_eq!(s.order[0], 0);
        assert!(s.confidence[0] > 0.95, "{:?}", s.confidence);
        assert!(s.confidence[1] < 0.8, "{:?}", s.confidence);
        // Four wins in four is not yet sure; sixteen in sixteen is.
        let few = standing(2, &games(0, 1, Model1, 4));
        assert!(
            few.confidence[0] > 0.8 && few.confidence[0] < 0.95,
            "{:?}",
            few.confidence
        );
        let many = standing(2, &games(0, 1, Model1, 16));
        assert!(many.confidence[0] > 0.99, "{:?}", many.confidence);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
    }
}
