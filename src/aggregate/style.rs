//! Style-controlled Bradley-Terry ratings, as Chatbot Arena and Arena-Hard-Auto compute them
//! (FastChat `fastchat/serve/monitor/rating_systems.py` at 2bdb2e0: `preprocess_for_style`,
//! `fit_contextual_bt`; Arena-Hard-Auto `show_result.py --control-features` at 005ac12): each
//! game gets four style features — answer length and the density of Markdown headers, list
//! items and bold (counts per character, code blocks removed; see
//! [`crate::records::text::markdown_counts`]) — each as (a − b) / (a + b + 1) of the two
//! answers, divided by their standard deviation over the games (not centred: see
//! [`cells`]); they are fitted jointly with the ratings, logit =
//! ln 10 · (r_a − r_b) + Σ γ·feature, with FastChat's light L2 penalty (½ · ‖params‖² · ½),
//! and bootstrapped. Length is in characters, not tokens: tokens depend on the tokenizer, and
//! Japanese and English answers are compared on one measure.
//!
//! Games whose features and verdict coincide are fitted as one weighted cell, so a million
//! games over a few thousand (pair, question) answers fit, and resample, at the cost of those
//! cells.

use std::collections::HashMap;

use serde::Serialize;

use rand_distr::{Distribution, Poisson};

use super::bootstrap::{BootstrapOptions, interval, rng_for};
use crate::records::text::TextStats;

/// The style features, in their order.
pub const FEATURES: [&str; 4] = ["length", "headers", "lists", "bold"];

/// FastChat's `reg` (the gradient's penalty term; the loss adds half of it times ½‖p‖²).
const REG: f64 = 0.5;

/// One game for style control: its two models (indexes), the four raw features, and the
/// first model's share of the verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StyleGame {
    /// model_1's index.
    pub a: usize,
    /// model_2's index.
    pub b: usize,
    /// Raw (unstandardised) features, see [`features`].
    pub features: [f64; 4],
    /// model_1's share: 1 a win, ½ a tie, 0 a loss (or a continuous preference).
    pub y: f64,
}

/// The raw style features of answer `a` against answer `b`.
pub fn features(a: TextStats, b: TextStats) -> [f64; 4] {
    let ratio = |x: f64, y: f64| (x - y) / (x + y + 1.0);
    let density = |t: TextStats, k: usize| {
        if t.chars == 0 {
            0.0
        } else {
            f64::from(t.markdown[k]) / f64::from(t.chars)
        }
    };
    [
        ratio(f64::from(a.chars), f64::from(b.chars)),
        ratio(density(a, 0), density(b, 0)),
        ratio(density(a, 1), density(b, 1)),
        ratio(density(a, 2), density(b, 2)),
    ]
}

/// One style coefficient: how much a standard deviation more of the feature (in the first
/// answer's favour) moves the log-odds of winning.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StyleCoefficient {
    /// `length`, `headers`, `lists` or `bold`.
    pub feature: String,
    /// The coefficient (log-odds per standard deviation of the feature).
    pub coefficient: f64,
    /// Its 95% bootstrap interval.
    pub ci: Option<[f64; 2]>,
}

/// What a report shows of style control beside the ratings.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StyleControl {
    /// Games fitted (both answers known, a verdict given).
    pub games: usize,
    /// The features' coefficients.
    pub coefficients: Vec<StyleCoefficient>,
}

/// Style-controlled ratings of every model (by index).
#[derive(Debug, Clone, Default)]
pub struct StyleRatings {
    /// Elo-scale rating (`None`: not estimable, as for the plain ratings, or no style data).
    pub rating: Vec<Option<f64>>,
    /// Its 95% bootstrap interval.
    pub rating_ci: Vec<Option<[f64; 2]>>,
    /// The coefficients, when there were games to fit.
    pub control: Option<StyleControl>,
}

/// Games with the same players, features and verdict, counted once (what the fit reads).
#[derive(Debug, Default)]
pub struct StyleGames {
    by: HashMap<GameKey, u64>,
    games: usize,
}

/// A game's players, its features' bits and its verdict's bits.
type GameKey = (usize, usize, [u64; 4], u64);

impl StyleGames {
    /// Adds one game.
    pub fn add(&mut self, g: StyleGame) {
        *self
            .by
            .entry((g.a, g.b, g.features.map(f64::to_bits), g.y.to_bits()))
            .or_default() += 1;
        self.games += 1;
    }

    /// How many games were added.
    pub fn len(&self) -> usize {
        self.games
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.games == 0
    }

    /// The distinct games in (a, b, features, y) order, with their counts.
    fn iter(&self) -> impl Iterator<Item = (StyleGame, u64)> + '_ {
        let mut keys: Vec<(&GameKey, &u64)> = self.by.iter().collect();
        keys.sort_unstable_by(|x, y| x.0.cmp(y.0));
        keys.into_iter().map(|(&(a, b, f, y), &c)| {
            (
                StyleGame {
                    a,
                    b,
                    features: f.map(f64::from_bits),
                    y: f64::from_bits(y),
                },
                c,
            )
        })
    }
}

/// The games grouped by what the fit sees: each group's players and standardised features,
/// and under it each verdict's count (the bootstrap resamples those counts).
struct Cells {
    groups: Vec<(usize, usize, [f64; 4])>,
    /// (group, verdict) of each count.
    verdicts: Vec<(usize, f64)>,
    counts: Vec<u64>,
}

fn cells(games: &StyleGames) -> Cells {
    let n = games.len() as f64;
    let mut mean = [0.0; 4];
    for (g, c) in games.iter() {
        for (m, f) in mean.iter_mut().zip(g.features) {
            *m += c as f64 * f / n;
        }
    }
    let mut sd = [0.0; 4];
    for (g, c) in games.iter() {
        for k in 0..4 {
            sd[k] += c as f64 * (g.features[k] - mean[k]).powi(2) / n;
        }
    }
    let sd = sd.map(f64::sqrt);
    let mut out = Cells {
        groups: Vec::new(),
        verdicts: Vec::new(),
        counts: Vec::new(),
    };
    // Games come in (a, b, features, y) order: a group's verdicts are consecutive.
    let mut last: Option<(usize, usize, [u64; 4])> = None;
    for (g, count) in games.iter() {
        let key = (g.a, g.b, g.features.map(f64::to_bits));
        if last != Some(key) {
            // Scaled by the spread but not centred: 0 stays "the same style", so the
            // ratings are at equal style (centring would credit whichever model is more
            // often model_1 with the games' average difference). A feature that never
            // varies stays 0.
            let z: [f64; 4] = std::array::from_fn(|k| {
                if sd[k] > 0.0 {
                    g.features[k] / sd[k]
                } else {
                    0.0
                }
            });
            out.groups.push((g.a, g.b, z));
            last = Some(key);
        }
        out.verdicts.push((out.groups.len() - 1, g.y));
        out.counts.push(count);
    }
    out
}

/// Penalised maximum likelihood by Newton steps from `start`, with verdict counts `w`.
fn fit(k: usize, c: &Cells, w: &[u64], start: &[f64], max: usize) -> Vec<f64> {
    let alpha = std::f64::consts::LN_10;
    let d = k + 4;
    // Each group's games and its first model's wins (ties half).
    let mut n = vec![0.0; c.groups.len()];
    let mut s = vec![0.0; c.groups.len()];
    for (&(g, y), &count) in c.verdicts.iter().zip(w) {
        n[g] += count as f64;
        s[g] += count as f64 * y;
    }
    let mut p = start.to_vec();
    for _ in 0..max {
        let mut grad: Vec<f64> = p.iter().map(|v| -REG * v).collect();
        let mut h = vec![vec![0.0; d]; d];
        for (i, row) in h.iter_mut().enumerate() {
            row[i] = REG;
        }
        for (gi, &(a, b, f)) in c.groups.iter().enumerate() {
            if n[gi] == 0.0 {
                continue;
            }
            let logit = alpha * (p[a] - p[b]) + (0..4).map(|j| p[k + j] * f[j]).sum::<f64>();
            let q = 1.0 / (1.0 + (-logit).exp());
            let (r, v) = (s[gi] - n[gi] * q, n[gi] * q * (1.0 - q));
            let cols: [(usize, f64); 6] = [
                (a, alpha),
                (b, -alpha),
                (k, f[0]),
                (k + 1, f[1]),
                (k + 2, f[2]),
                (k + 3, f[3]),
            ];
            for &(i, xi) in &cols {
                grad[i] += r * xi;
                for &(j, xj) in &cols {
                    h[i][j] += v * xi * xj;
                }
            }
        }
        let Some(step) = super::bt::solve(h, grad) else {
            break;
        };
        let moved = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        for (pi, si) in p.iter_mut().zip(step) {
            *pi += si;
        }
        if moved < 1e-8 {
            break;
        }
    }
    p
}

/// Each count replaced by a draw of its Poisson distribution (`None`: a zero count).
fn poisson_counts(dists: &[Option<Poisson<f64>>], rng: &mut rand_chacha::ChaCha8Rng) -> Vec<u64> {
    dists
        .iter()
        .map(|d| d.as_ref().map_or(0, |p| p.sample(rng) as u64))
        .collect()
}

/// Bootstrap rounds of style control, at most (Arena-Hard-Auto's `bootstrap_pairwise_model`
/// takes 100): each refits every (pair, question) cell, so a report of a million games over
/// thousands of cells stays within its two seconds.
pub const STYLE_ROUNDS: usize = 100;

/// Style-controlled ratings for `k` models; `anchor` (the baseline) at 1000, or else the
/// mean of the models `estimable` marks (those the plain ratings bound). `None` ratings where
/// the plain ones are not estimable, or without games.
pub fn style_rate(
    k: usize,
    games: &StyleGames,
    anchor: Option<usize>,
    estimable: &[bool],
    opts: BootstrapOptions,
) -> StyleRatings {
    let mut out = StyleRatings {
        rating: vec![None; k],
        rating_ci: vec![None; k],
        control: None,
    };
    if k == 0 || games.is_empty() {
        return out;
    }
    let c = cells(games);
    let elo = |p: &[f64]| -> Vec<f64> {
        let r: Vec<f64> = p[..k].iter().map(|v| 400.0 * v + 1000.0).collect();
        let shift = match anchor {
            Some(a) => r[a] - 1000.0,
            None => {
                let group: Vec<f64> = (0..k).filter(|&i| estimable[i]).map(|i| r[i]).collect();
                group.iter().sum::<f64>() / group.len().max(1) as f64 - 1000.0
            }
        };
        r.into_iter().map(|x| x - shift).collect()
    };
    let full = fit(k, &c, &c.counts, &vec![0.0; k + 4], 50);
    let rating = elo(&full);
    let mut rating_samples: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut coef_samples: Vec<Vec<f64>> = vec![Vec::new(); 4];
    if opts.rounds > 0 {
        let dists: Vec<Option<Poisson<f64>>> = c
            .counts
            .iter()
            .map(|&n| (n > 0).then(|| Poisson::new(n as f64).ok()).flatten())
            .collect();
        // The Poisson bootstrap (each game's weight a Poisson(1) draw, so a cell of c games
        // draws Poisson(c)): independent draws per cell, a fraction of a multinomial's cost on
        // tens of thousands of cells. Two Newton steps from the full fit: a resample moves the
        // estimate by a fraction of its standard error, which one step already finds to second
        // order. Each round has its own seeded stream, so the rounds run on two threads and
        // give the same intervals as one.
        let round = |r: usize| {
            let mut rng = rng_for(opts.seed, &format!("style control {r}"));
            fit(k, &c, &poisson_counts(&dists, &mut rng), &full, 2)
        };
        let rounds = opts.rounds.min(STYLE_ROUNDS);
        let half = rounds / 2;
        let fits: Vec<Vec<f64>> = std::thread::scope(|scope| {
            let other = scope.spawn(|| (half..rounds).map(round).collect::<Vec<_>>());
            let mut first: Vec<Vec<f64>> = (0..half).map(round).collect();
            first.extend(other.join().expect("a bootstrap thread"));
            first
        });
        for p in fits {
            for (i, r) in elo(&p).into_iter().enumerate() {
                rating_samples[i].push(r);
            }
            for j in 0..4 {
                coef_samples[j].push(p[k + j]);
            }
        }
    }
    for i in (0..k).filter(|&i| estimable[i]) {
        out.rating[i] = Some(rating[i]);
        out.rating_ci[i] = interval(std::mem::take(&mut rating_samples[i]));
    }
    out.control = Some(StyleControl {
        games: games.len(),
        coefficients: FEATURES
            .iter()
            .enumerate()
            .map(|(j, name)| StyleCoefficient {
                feature: name.to_string(),
                coefficient: full[k + j],
                ci: interval(std::mem::take(&mut coef_samples[j])),
            })
            .collect(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(chars: u32, markdown: [u8; 3]) -> TextStats {
        TextStats {
            chars,
            japanese: Some(true),
            markdown,
        }
    }

    #[test]
    fn features_are_ratios_of_length_and_markdown_density() {
        let f = features(stats(300, [3, 0, 6]), stats(99, [0, 0, 0]));
        assert!((f[0] - 201.0 / 400.0).abs() < 1e-12);
        assert!((f[1] - 0.01 / 1.01).abs() < 1e-12);
        assert_eq!(f[2], 0.0);
        assert!((f[3] - 0.02 / 1.02).abs() < 1e-12);
    }

    /// Two models of equal quality, one answering at twice the length, before a judge that
    /// prefers the longer answer 80% of the time: plain ratings separate them; with style
    /// controlled they are level, and the length coefficient is clearly positive.
    #[test]
    fn two_models_equal_but_for_length_are_level_under_style_control() {
        let mut games = StyleGames::default();
        let long = stats(800, [0, 0, 0]);
        let short = stats(400, [0, 0, 0]);
        let mut outcomes = Vec::new();
        for q in 0..400 {
            // Each question: a game where model 0 is long and model 1 short, and one with the
            // roles of length swapped (each model answers long half the time).
            let (a0, a1) = if q % 2 == 0 {
                (long, short)
            } else {
                (short, long)
            };
            let longer_first = a0.chars > a1.chars;
            let longer_wins = q % 5 != 0; // 80%
            let y = if longer_first == longer_wins {
                1.0
            } else {
                0.0
            };
            games.add(StyleGame {
                a: 0,
                b: 1,
                features: features(a0, a1),
                y,
            });
            outcomes.push((0usize, 1usize, y));
        }
        // Model 0 answers long more often: 3 of 4 of its answers are the long one.
        for q in 0..200 {
            let longer_wins = q % 5 != 0;
            let y = if longer_wins { 1.0 } else { 0.0 };
            games.add(StyleGame {
                a: 0,
                b: 1,
                features: features(long, short),
                y,
            });
            outcomes.push((0, 1, y));
        }
        let opts = BootstrapOptions {
            rounds: 200,
            seed: 1,
        };
        // Plain: model 0 won 60% of the games (it was the longer one in 400 of 600), which a
        // Bradley-Terry fit of two models reads as 400·log10(0.6/0.4) = 70 Elo above.
        let raw: f64 = outcomes.iter().map(|o| o.2).sum::<f64>() / outcomes.len() as f64;
        assert!((raw - 0.6).abs() < 1e-9, "{raw}");
        let plain = 400.0 * (raw / (1.0 - raw)).log10();
        assert!(plain > 70.0, "{plain}");
        let s = style_rate(2, &games, Some(1), &[true, true], opts);
        let gap = s.rating[0].unwrap() - s.rating[1].unwrap();
        assert!(gap.abs() < 25.0, "style-controlled gap {gap}");
        let [lo, hi] = s.rating_ci[0].unwrap();
        assert!(lo <= s.rating[0].unwrap() && s.rating[0].unwrap() <= hi);
        assert!(
            lo < 1000.0 && hi > 1000.0,
            "the interval spans level: {lo} {hi}"
        );
        let control = s.control.unwrap();
        let length = &control.coefficients[0];
        assert_eq!(length.feature, "length");
        assert!(length.coefficient > 0.5, "{length:?}");
        assert!(length.ci.unwrap()[0] > 0.0, "{length:?}");
        // The Markdown features never vary here: their coefficients stay at 0.
        assert_eq!(control.coefficients[1].coefficient, 0.0);
    }
}
