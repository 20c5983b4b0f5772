//! Length bias: how verdicts follow answer length, and a length-controlled win rate in the
//! manner of AlpacaEval 2.0, fitted jointly over every model against the baseline so that no
//! model can raise its own figure by answering shortly (see [`length_controlled`]).

use super::sum::{ExactSum, exact_sum};

/// Pearson correlation, `None` with fewer than 3 points or no spread.
pub fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    if n < 3 {
        return None;
    }
    let mx = exact_sum(xs[..n].iter().copied()) / n as f64;
    let my = exact_sum(ys[..n].iter().copied()) / n as f64;
    let (mut sxy, mut sxx, mut syy) = (ExactSum::new(), ExactSum::new(), ExactSum::new());
    for i in 0..n {
        let (dx, dy) = (xs[i] - mx, ys[i] - my);
        sxy.add(dx * dy);
        sxx.add(dx * dx);
        syy.add(dy * dy);
    }
    let (sxy, sxx, syy) = (sxy.value(), sxx.value(), syy.value());
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Pearson's correlation over pairs added one at a time, in exact sums (so the result does not
/// depend on their order, and a million games cost five sums, not a million pairs).
#[derive(Debug, Default)]
pub struct PearsonSums {
    /// Pairs added.
    pub n: usize,
    sums: [ExactSum; 5],
}

impl PearsonSums {
    /// Adds one pair.
    pub fn add(&mut self, x: f64, y: f64) {
        self.n += 1;
        for (s, v) in self.sums.iter_mut().zip([x, y, x * x, y * y, x * y]) {
            s.add(v);
        }
    }

    /// The correlation, `None` with fewer than 3 pairs or no spread.
    pub fn correlation(&self) -> Option<f64> {
        if self.n < 3 {
            return None;
        }
        let n = self.n as f64;
        let [sx, sy, sxx, syy, sxy] = self.sums.each_ref().map(ExactSum::value);
        let cxy = sxy - sx * sy / n;
        let (cxx, cyy) = (sxx - sx * sx / n, syy - sy * sy / n);
        (cxx > 0.0 && cyy > 0.0).then(|| (cxy / (cxx * cyy).sqrt()).clamp(-1.0, 1.0))
    }
}

/// Standard deviation (population), `None` when empty.
pub fn std_dev(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let m = exact_sum(xs.iter().copied()) / xs.len() as f64;
    Some((exact_sum(xs.iter().map(|x| (x - m).powi(2))) / xs.len() as f64).sqrt())
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// One game against the baseline, for the length-controlled win rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LcGame {
    /// The model (an index below the `models` given to [`length_controlled`]).
    pub model: usize,
    /// The question (any index; games of one question share its difficulty).
    pub question: usize,
    /// ln((model's answer chars + 1) / (baseline's + 1)).
    pub log_ratio: f64,
    /// The model's share of the verdict: 1 a win, ½ a tie, 0 a loss, or a continuous
    /// preference.
    pub y: f64,
}

/// Ridge on each question's difficulty (a prior standard deviation of about 1.8 logits).
pub const LC_QUESTION_RIDGE: f64 = 0.3;
/// Ridge pulling each model's length coefficient toward the pooled one.
pub const LC_MODEL_LENGTH_RIDGE: f64 = 10.0;

/// The length-controlled win rate of every model against the baseline, from one joint fit of
/// all their games: P(model wins on question q) = σ(θ_m + δ_q + (β + b_m)·tanh(ℓ/s)), where ℓ
/// is the log ratio of the answer lengths, s the models' typical spread of it (see
/// [`within_model_spread`]), δ_q the
/// question's difficulty (ridge [`LC_QUESTION_RIDGE`]), β the length coefficient pooled over
/// all models and b_m a model's deviation from it (ridge [`LC_MODEL_LENGTH_RIDGE`]). A
/// model's figure is its mean predicted win rate over the questions it played at equal
/// length: mean_q σ(θ_m + δ_q). `None` for a model without games, or for every model when the
/// lengths do not vary.
///
/// The pooled coefficient is what keeps the figure from being gamed: a model whose answers
/// are all far shorter (tanh saturated) cannot fit its own steep length effect, so it cannot
/// claim to be much better "at equal length" than the other models' games show length is
/// worth. Games are read in a canonical order, so the fit does not depend on theirs.
pub fn length_controlled(games: &[LcGame], models: usize) -> Vec<Option<f64>> {
    let mut out = vec![None; models];
    let Some(s) = within_model_spread(games, models) else {
        return out;
    };
    let mut games: Vec<LcGame> = games.to_vec();
    games.sort_by(|a, b| {
        (a.model, a.question)
            .cmp(&(b.model, b.question))
            .then(a.log_ratio.total_cmp(&b.log_ratio))
            .then(a.y.total_cmp(&b.y))
    });
    // Questions renumbered densely.
    let mut qs: Vec<usize> = games.iter().map(|g| g.question).collect();
    qs.sort_unstable();
    qs.dedup();
    let q_of = |q: usize| qs.binary_search(&q).expect("a question of the games");
    let rows: Vec<(usize, usize, f64, f64)> = games
        .iter()
        .map(|g| {
            (
                g.model,
                q_of(g.question),
                (g.log_ratio / s).tanh(),
                g.y.clamp(0.0, 1.0),
            )
        })
        .collect();
    let fit = fit_joint(&rows, models, qs.len());
    let mut sums = vec![(0.0, 0usize); models];
    let mut seen = std::collections::BTreeSet::new();
    for &(m, q, _, _) in &rows {
        if seen.insert((m, q)) {
            sums[m].0 += sigmoid(fit.theta[m] + fit.delta[q]);
            sums[m].1 += 1;
        }
    }
    for (m, (sum, n)) in sums.into_iter().enumerate() {
        if n > 0 {
            out[m] = Some(sum / n as f64);
        }
    }
    out
}

/// The scale the log ratios are read on: the median over models of each model's own spread
/// of them ([`robust_spread`]). Within-model spreads, so that a model whose answers are all
/// far shorter (or longer) does not stretch the scale every other model's lengths are read
/// on, and the length effect is measured where the models' games show it; `None` when no
/// model's lengths vary.
fn within_model_spread(games: &[LcGame], models: usize) -> Option<f64> {
    let mut by_model: Vec<Vec<f64>> = vec![Vec::new(); models];
    for g in games {
        by_model[g.model].push(g.log_ratio);
    }
    let mut spreads: Vec<f64> = by_model.iter().filter_map(|v| robust_spread(v)).collect();
    spreads.sort_by(f64::total_cmp);
    let n = spreads.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(spreads[n / 2]),
        _ => Some((spreads[n / 2 - 1] + spreads[n / 2]) / 2.0),
    }
}

/// A spread of `xs`: 1.4826 × their median absolute deviation (the standard deviation for
/// normal data, unmoved by a few extreme answers); the standard deviation when most values
/// are equal; `None` for fewer than two values or none different.
fn robust_spread(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            0.0
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let mut v = xs.to_vec();
    let m = median(&mut v);
    let mut dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    let mad = 1.4826 * median(&mut dev);
    if mad > 0.0 {
        Some(mad)
    } else {
        std_dev(xs).filter(|s| *s > 0.0)
    }
}

/// The joint fit's parameters.
struct JointFit {
    theta: Vec<f64>,
    delta: Vec<f64>,
}

/// Penalised maximum likelihood by block Newton steps: the models' intercepts, the pooled
/// length coefficient and the models' deviations together; then each question's difficulty
/// (its own diagonal block); until no parameter moves by 1e-9.
fn fit_joint(rows: &[(usize, usize, f64, f64)], models: usize, questions: usize) -> JointFit {
    let k = 2 * models + 1; // θ (models), β, b (models)
    let mut w = vec![0.0; k];
    let mut delta = vec![0.0; questions];
    const TINY: f64 = 1e-6;
    let ridge: Vec<f64> = (0..k)
        .map(|i| {
            if i <= models {
                TINY
            } else {
                LC_MODEL_LENGTH_RIDGE
            }
        })
        .collect();
    for _ in 0..200 {
        // The dense block.
        let mut g = vec![0.0; k];
        let mut h = vec![vec![0.0; k]; k];
        for &(m, q, x, y) in rows {
            let eta = w[m] + (w[models] + w[models + 1 + m]) * x + delta[q];
            let p = sigmoid(eta);
            let (r, v) = (y - p, p * (1.0 - p));
            let cols = [(m, 1.0), (models, x), (models + 1 + m, x)];
            for &(i, xi) in &cols {
                g[i] += r * xi;
                for &(j, xj) in &cols {
                    h[i][j] += v * xi * xj;
                }
            }
        }
        for i in 0..k {
            g[i] -= ridge[i] * w[i];
            h[i][i] += ridge[i];
        }
        let step = super::bt::solve(h, g).unwrap_or_else(|| vec![0.0; k]);
        let mut moved = step.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        for (wi, si) in w.iter_mut().zip(&step) {
            *wi += si;
        }
        // The questions' block: diagonal.
        let mut gq = vec![0.0; questions];
        let mut hq = vec![0.0; questions];
        for &(m, q, x, y) in rows {
            let p = sigmoid(w[m] + (w[models] + w[models + 1 + m]) * x + delta[q]);
            gq[q] += y - p;
            hq[q] += p * (1.0 - p);
        }
        for q in 0..questions {
            let step = (gq[q] - LC_QUESTION_RIDGE * delta[q]) / (hq[q] + LC_QUESTION_RIDGE);
            delta[q] += step;
            moved = moved.max(step.abs());
        }
        if moved < 1e-9 {
            break;
        }
    }
    JointFit {
        theta: w[..models].to_vec(),
        delta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_basics() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[0.0, 1.0, 0.0]), None);
    }

    /// Games of `models` (quality, mean log length ratio) on `questions` questions, judged
    /// by a judge that adds `bias`·tanh(ℓ / 0.6) to the log odds: each game a Bernoulli draw.
    fn judged(models: &[(f64, f64)], questions: usize, bias: f64, seed: u64) -> Vec<LcGame> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = |rng: &mut rand_chacha::ChaCha8Rng| {
            // Box-Muller.
            let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let difficulty: Vec<f64> = (0..questions).map(|_| normal(&mut rng)).collect();
        let mut out = Vec::new();
        for (m, &(quality, length)) in models.iter().enumerate() {
            for (q, d) in difficulty.iter().enumerate() {
                let l = length + 0.4 * normal(&mut rng);
                let p = sigmoid(quality + d + bias * (l / 0.6).tanh());
                out.push(LcGame {
                    model: m,
                    question: q,
                    log_ratio: l,
                    y: f64::from(u8::from(rng.random::<f64>() < p)),
                });
            }
        }
        out
    }

    #[test]
    fn answering_shortly_does_not_raise_the_length_controlled_win_rate() {
        // Five models of different quality and length; the sixth is the first one made to
        // answer in a twentieth of its length (log ratio 3 lower), judged by the same judge.
        let models = [
            (0.0, 0.2),
            (-0.5, -0.3),
            (-1.0, -0.8),
            (-1.5, 0.0),
            (-2.0, -0.5),
            (0.0, 0.2 - 3.0),
        ];
        let games = judged(&models, 800, 1.2, 7);
        let lc = length_controlled(&games, models.len());
        let lc: Vec<f64> = lc.into_iter().map(Option::unwrap).collect();
        let raw = |m: usize| {
            let ys: Vec<f64> = games.iter().filter(|g| g.model == m).map(|g| g.y).collect();
            ys.iter().sum::<f64>() / ys.len() as f64
        };
        // The short copy loses far more often than the original …
        assert!(raw(5) < raw(0) - 0.15, "{} {}", raw(5), raw(0));
        // … is credited for answering shortly (its figure is above its raw win rate) …
        assert!(lc[5] > raw(5) + 0.1, "{lc:?}");
        // … but at equal length it is not worth more than the original (within the noise of
        // 800 games, about 2 points); over seeds 1-11 it stays 3 to 9 points below, but one.
        assert!(lc[5] <= lc[0] + 0.03, "{lc:?}");
        // The models keep their order of quality.
        assert!(lc[..5].windows(2).all(|w| w[0] > w[1]), "{lc:?}");
    }

    #[test]
    fn a_model_that_wins_only_by_length_is_even_at_equal_length() {
        // Two models of the baseline's quality: one usually longer, one usually shorter; a
        // judge that favours length makes the first win and the second lose, but at equal
        // length both are even with the baseline.
        let games = judged(&[(0.0, 0.5), (0.0, -0.5)], 1500, 1.5, 11);
        let raw = |m: usize| {
            let ys: Vec<f64> = games.iter().filter(|g| g.model == m).map(|g| g.y).collect();
            ys.iter().sum::<f64>() / ys.len() as f64
        };
        assert!(raw(0) > 0.6 && raw(1) < 0.4, "{} {}", raw(0), raw(1));
        let lc = length_controlled(&games, 2);
        for v in lc {
            assert!((v.unwrap() - 0.5).abs() < 0.05, "{v:?}");
        }
    }

    #[test]
    fn without_length_differences_there_is_no_length_controlled_figure() {
        let games: Vec<LcGame> = (0..10)
            .map(|q| LcGame {
                model: 0,
                question: q,
                log_ratio: 0.0,
                y: 1.0,
            })
            .collect();
        assert_eq!(length_controlled(&games, 2), vec![None, None]);
    }
}
