//! Seeded, reproducible bootstrap. Resampling N items with replacement from K distinct kinds
//! of item (a score value, a game outcome between two models) is the same as drawing the kind
//! counts from a multinomial(N, observed shares); drawing that multinomial as a chain of
//! binomials costs O(K) per round instead of O(N), so a million games resample as fast as a
//! hundred.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

/// How intervals are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// Resampling rounds (0 turns intervals off).
    pub rounds: usize,
    /// Seed: the same seed and data give the same intervals.
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            rounds: crate::defaults::BOOTSTRAP,
            seed: crate::defaults::SEED,
        }
    }
}

/// The generator for one named quantity: seeded from the run's seed and the name, so adding
/// a model or a category does not change the intervals of the others.
pub fn rng_for(seed: u64, name: &str) -> ChaCha8Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(h)
}

/// Resampled counts: `counts` total N; returns new counts with the same total.
pub fn resample_counts(counts: &[u64], rng: &mut ChaCha8Rng) -> Vec<u64> {
    let total: u64 = counts.iter().sum();
    let mut left_n = total;
    let mut left_w = total;
    let mut out = Vec::with_capacity(counts.len());
    for &c in counts {
        if left_n == 0 || left_w == 0 || c == 0 {
            out.push(0);
            continue;
        }
        let p = (c as f64 / left_w as f64).min(1.0);
        let draw = if p >= 1.0 {
            left_n
        } else {
            Binomial::new(left_n, p).map(|b| b.sample(rng)).unwrap_or(0)
        };
        out.push(draw);
        left_n -= draw;
        left_w -= c;
    }
    out
}

/// The 2.5th and 97.5th percentiles (linear interpolation, as numpy's default).
pub fn interval(mut xs: Vec<f64>) -> Option<[f64; 2]> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    Some([quantile(&xs, 0.025), quantile(&xs, 0.975)])
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Bootstrap interval of the mean of a sample.
pub fn mean_interval(values: &[f64], opts: BootstrapOptions, name: &str) -> Option<[f64; 2]> {
    if values.is_empty() || opts.rounds == 0 {
        return None;
    }
    // Distinct values and their counts (scores take few distinct values).
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut kinds: Vec<f64> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    for v in sorted {
        if kinds.last() == Some(&v) {
            *counts.last_mut().expect("pushed with kinds") += 1;
        } else {
            kinds.push(v);
            counts.push(1);
        }
    }
    counts_mean_interval(&kinds, &counts, opts, name)
}

/// Bootstrap interval of the mean of a sample given as distinct values and their counts
/// (a win rate is wins × 1, ties × ½, losses × 0).
pub fn counts_mean_interval(
    kinds: &[f64],
    counts: &[u64],
    opts: BootstrapOptions,
    name: &str,
) -> Option<[f64; 2]> {
    let n = counts.iter().sum::<u64>() as f64;
    if n == 0.0 || opts.rounds == 0 {
        return None;
    }
    let mut rng = rng_for(opts.seed, name);
    let means = (0..opts.rounds)
        .map(|_| {
            let c = resample_counts(counts, &mut rng);
            c.iter().zip(kinds).map(|(c, v)| *c as f64 * v).sum::<f64>() / n
        })
        .collect();
    interval(means)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_the_total_and_tracks_the_shares() {
        let mut rng = rng_for(1, "x");
        let mut sums = [0u64; 3];
        for _ in 0..2000 {
            let c = resample_counts(&[500, 300, 200], &mut rng);
            assert_eq!(c.iter().sum::<u64>(), 1000);
            for i in 0..3 {
                sums[i] += c[i];
            }
        }
        let share = sums[0] as f64 / (2000.0 * 1000.0);
        assert!((share - 0.5).abs() < 0.005, "{share}");
    }

    #[test]
    fn same_seed_same_interval_and_a_sensible_width() {
        let values: Vec<f64> = (0..400)
            .map(|i| if i % 2 == 0 { 6.0 } else { 8.0 })
            .collect();
        let o = BootstrapOptions {
            rounds: 1000,
            seed: 42,
        };
        let a = mean_interval(&values, o, "m").unwrap();
        assert_eq!(Some(a), mean_interval(&values, o, "m"));
        // Mean 7, sd 1, n 400: the standard error is 0.05, so the 95% interval is about ±0.098.
        assert!(a[0] < 7.0 && a[1] > 7.0, "{a:?}");
        assert!((a[1] - a[0] - 0.196).abs() < 0.03, "{a:?}");
        let other = mean_interval(
            &values,
            BootstrapOptions {
                rounds: 1000,
                seed: 43,
            },
            "m",
        )
        .unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let xs: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(interval(xs), Some([2.5, 97.5]));
    }
}
