//! Length bias: how verdicts follow answer length, and a length-controlled win rate in the
//! manner of AlpacaEval 2.0: per model, fit P(model beats baseline) = σ(θ + φ·tanh(Δ/s)),
//! where Δ is the model's answer length minus the baseline's and s the standard deviation of
//! Δ over all games, then report σ(θ), the win rate predicted at equal length.

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

/// Fits σ(θ + φ·x) to outcomes `y` (1 win, 0.5 tie, 0 loss) and returns σ(θ). A weak ridge
/// (as AlpacaEval regularises its length term) keeps φ finite when wins line up with length.
pub fn length_controlled(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let (mut t, mut p) = (0.0f64, 0.0f64);
    const RIDGE: f64 = 1e-3;
    // Gradient and Hessian sums, exact so that the fit does not depend on the games' order.
    let mut sums: [ExactSum; 5] = Default::default();
    for _ in 0..100 {
        sums.iter_mut().for_each(ExactSum::clear);
        for (&x, &y) in xs.iter().zip(ys) {
            let s = sigmoid(t + p * x);
            let r = y - s;
            let w = s * (1.0 - s);
            for (sum, term) in sums.iter_mut().zip([r, r * x, w, w * x, w * x * x]) {
                sum.add(term);
            }
        }
        let [mut g0, mut g1, mut h00, h01, mut h11] = sums.each_ref().map(ExactSum::value);
        g0 -= RIDGE * t;
        g1 -= RIDGE * p;
        h00 += RIDGE;
        h11 += RIDGE;
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-300 {
            break;
        }
        let dt = (h11 * g0 - h01 * g1) / det;
        let dp = (h00 * g1 - h01 * g0) / det;
        t += dt;
        p += dp;
        if dt.abs().max(dp.abs()) < 1e-10 {
            break;
        }
    }
    Some(sigmoid(t))
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

    #[test]
    fn a_model_that_wins_only_by_length_is_even_at_equal_length() {
        // Longer answers (x = +1) win 80%, shorter ones (x = −1) win 20%: the model's raw win
        // rate is 0.6 because it is usually longer, but at equal length it is even.
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..100 {
            let long = i < 75; // usually longer
            let x = if long { 1.0 } else { -1.0 };
            let win_share = if long { 0.8 } else { 0.2 };
            for j in 0..10 {
                xs.push(x);
                ys.push(if (j as f64) < win_share * 10.0 {
                    1.0
                } else {
                    0.0
                });
            }
        }
        let raw = ys.iter().sum::<f64>() / ys.len() as f64;
        assert!((raw - 0.65).abs() < 1e-9);
        let lc = length_controlled(&xs, &ys).unwrap();
        assert!((lc - 0.5).abs() < 0.01, "{lc}");
    }
}
