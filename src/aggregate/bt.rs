//! Bradley-Terry ratings (Newton's method on the log-posterior), on the Elo scale: rating =
//! 1000 + 400/ln 10 · β, so a 400-point gap means 10:1 odds. Ties count as half a win each
//! way. An optional "home" term `h` (Rakuda's position term) models an advantage for the
//! answer shown first: P(first beats second) = σ(β_first − β_second + h).
//!
//! **The prior.** Every observation cell (a pairing, or one order of a pairing when a home
//! term is fitted) is credited [`PRIOR_TIES`] virtual tie, as rating systems in the field do
//! (bayeselo's virtual draws; for two players this is exactly Firth's / Jeffreys' estimate
//! (w + ½)/(n + 1)). It keeps every estimate finite when a player wins or loses every game
//! (the maximum-likelihood estimate is then infinite), so bootstrap resamples with a clean
//! sweep stay meaningful, and it moves ordinary ratings very little (60 wins in 80 games:
//! 188.0 instead of 190.8 Elo over the opponent).
//!
//! **Separation.** When the data alone put no bound on a figure (the games do not connect a
//! player to the others in both directions: it won, or lost, everything that links it), the
//! figure rests on the prior and is reported as not estimable, with the reason, rather than
//! as a number with an interval around an artefact; see [`components`] and [`prior_bound`].

/// 400 / ln 10: converts natural-log odds to Elo points.
pub const ELO_PER_NAT: f64 = 400.0 / std::f64::consts::LN_10;

/// Aggregated results of one ordered pairing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Obs {
    /// The first player (shown first, when `home` is 1).
    pub a: usize,
    /// The second player.
    pub b: usize,
    /// Wins of `a`, ties counted as halves.
    pub wins_a: f64,
    /// Games played.
    pub n: f64,
    /// 1 when `a` had the first position and a position term is fitted; else 0.
    pub home: f64,
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Strengths in natural-log odds, `beta[anchor] == 0`.
    pub beta: Vec<f64>,
    /// Position term in natural-log odds (0 when not fitted).
    pub home: f64,
}

/// Virtual ties credited to every observation cell (see the module docs).
pub const PRIOR_TIES: f64 = 1.0;

/// A tiny ridge keeps Newton's steps well defined when a fit has no prior.
const RIDGE: f64 = 1e-9;

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn log_lik(obs: &[Obs], beta: &[f64], home: f64) -> f64 {
    let mut ll = 0.0;
    for o in obs {
        let d = beta[o.a] - beta[o.b] + home * o.home;
        // log σ(d) and log σ(−d), computed stably.
        let lp = -(1.0 + (-d).exp()).ln();
        let lq = -(1.0 + d.exp()).ln();
        let lp = if lp.is_finite() { lp } else { d };
        let lq = if lq.is_finite() { lq } else { -d };
        ll += o.wins_a * lp + (o.n - o.wins_a) * lq;
    }
    ll - 0.5 * RIDGE * (beta.iter().map(|b| b * b).sum::<f64>() + home * home)
}

/// Fits strengths for `k` players (and a home term if `with_home`), with `beta[anchor] = 0`,
/// crediting each observation cell `prior` virtual ties.
pub fn fit(k: usize, obs: &[Obs], anchor: usize, with_home: bool, prior: f64) -> Fit {
    let with_prior: Vec<Obs> = obs
        .iter()
        .map(|o| Obs {
            wins_a: o.wins_a + prior / 2.0,
            n: o.n + prior,
            ..*o
        })
        .collect();
    let obs = with_prior.as_slice();
    // Free parameters: every beta except the anchor's, then the home term.
    let free: Vec<usize> = (0..k).filter(|&i| i != anchor).collect();
    let p = free.len() + usize::from(with_home);
    let mut beta = vec![0.0; k];
    let mut home = 0.0;
    if p == 0 {
        return Fit { beta, home };
    }
    let pos: Vec<Option<usize>> = (0..k).map(|i| free.iter().position(|&f| f == i)).collect();
    let mut ll = log_lik(obs, &beta, home);
    for _ in 0..100 {
        let mut g = vec![0.0; p];
        let mut h = vec![vec![0.0; p]; p];
        for o in obs {
            let d = beta[o.a] - beta[o.b] + home * o.home;
            let s = sigmoid(d);
            let resid = o.wins_a - o.n * s;
            let w = o.n * s * (1.0 - s);
            // Gradient and (negated) Hessian of the log-likelihood in d, spread over the
            // parameters d depends on: +beta_a, −beta_b, +home·o.home.
            let mut coefs: [(Option<usize>, f64); 3] =
                [(pos[o.a], 1.0), (pos[o.b], -1.0), (None, 0.0)];
            if with_home && o.home != 0.0 {
                coefs[2] = (Some(p - 1), o.home);
            }
            for &(i, ci) in &coefs {
                let Some(i) = i else { continue };
                g[i] += ci * resid;
                for &(j, cj) in &coefs {
                    if let Some(j) = j {
                        h[i][j] += ci * cj * w;
                    }
                }
            }
        }
        for i in 0..p {
            let value = if with_home && i == p - 1 {
                home
            } else {
                beta[free[i]]
            };
            g[i] -= RIDGE * value;
            h[i][i] += RIDGE;
        }
        let Some(step) = solve(h, g) else { break };
        // Damped Newton: halve the step until the likelihood does not fall.
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let mut nb = beta.clone();
            for (i, &f) in free.iter().enumerate() {
                nb[f] += t * step[i];
            }
            let nh = if with_home {
                home + t * step[p - 1]
            } else {
                0.0
            };
            let nll = log_lik(obs, &nb, nh);
            if nll >= ll - 1e-12 {
                let gain = nll - ll;
                beta = nb;
                home = nh;
                ll = nll;
                improved = gain > 1e-12;
                break;
            }
            t /= 2.0;
        }
        let size = step.iter().map(|s| s.abs()).fold(0.0, f64::max) * t;
        if !improved || size < 1e-10 {
            break;
        }
    }
    Fit { beta, home }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting (a is small and positive
/// definite here); `None` if singular.
pub(super) fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            if f != 0.0 {
                let (upper, lower) = a.split_at_mut(row);
                for (x, y) in lower[0][col..].iter_mut().zip(&upper[col][col..]) {
                    *x -= f * y;
                }
                b[row] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Whether the home term rests on the prior rather than the data. Refitted with a prior 10⁴
/// times weaker, a term the data bound moves by a fraction of a log-odds unit and keeps a
/// standard error of about one unit or less; a term the data do not bound either moves by
/// about ln 10⁴ ≈ 9 (half that when two cells share it: it diverges) or keeps its place but
/// with a standard error in the hundreds (nothing in the data moves it: every verdict that
/// could has been swept). Either way it is not estimable.
pub fn home_prior_bound(k: usize, obs: &[Obs], anchor: usize) -> bool {
    let strong = fit(k, obs, anchor, true, PRIOR_TIES);
    let weak = fit(k, obs, anchor, true, PRIOR_TIES * 1e-4);
    let se = standard_errors(k, obs, anchor, true, &weak);
    (strong.home - weak.home).abs() > 2.0 || se.last().is_none_or(|s| *s > 10.0)
}

/// The curvature (observed information) of the log-likelihood at `at` over the free
/// parameters (every strength but the anchor's, then the home term when `with_home`), each
/// cell weighted as if it had `prior` more games; and each player's row in it.
fn information(
    k: usize,
    obs: &[Obs],
    anchor: usize,
    with_home: bool,
    prior: f64,
    at: &Fit,
) -> (Vec<Vec<f64>>, Vec<Option<usize>>) {
    let free: Vec<usize> = (0..k).filter(|&i| i != anchor).collect();
    let p = free.len() + usize::from(with_home);
    let pos: Vec<Option<usize>> = (0..k).map(|i| free.iter().position(|&f| f == i)).collect();
    let mut h = vec![vec![0.0; p]; p];
    for o in obs {
        let d = at.beta[o.a] - at.beta[o.b] + at.home * o.home;
        let s = sigmoid(d);
        let w = (o.n + prior) * s * (1.0 - s);
        let mut coefs: [(Option<usize>, f64); 3] = [(pos[o.a], 1.0), (pos[o.b], -1.0), (None, 0.0)];
        if with_home && o.home != 0.0 {
            coefs[2] = (Some(p - 1), o.home);
        }
        for &(i, ci) in &coefs {
            let Some(i) = i else { continue };
            for &(j, cj) in &coefs {
                if let Some(j) = j {
                    h[i][j] += ci * cj * w;
                }
            }
        }
    }
    (h, pos)
}

/// The variance of `e · θ` under the information `h`: `e' h⁻¹ e`. A whisper of ridge keeps a
/// singular matrix invertible; its inverse, and so the variance, is then huge. Infinite when
/// `h` cannot be inverted at all.
fn variance_along(h: &[Vec<f64>], e: &[f64]) -> f64 {
    let mut hr = h.to_vec();
    for (j, row) in hr.iter_mut().enumerate() {
        row[j] += 1e-12;
    }
    solve(hr, e.to_vec()).map_or(f64::INFINITY, |x| {
        x.iter().zip(e).map(|(x, e)| x * e).sum::<f64>().max(0.0)
    })
}

/// Standard errors of the free parameters (every strength but the anchor's, then the home
/// term) from the likelihood's curvature at `at`, the prior left out: the information the
/// data alone carry. Infinite where they carry none.
pub fn standard_errors(
    k: usize,
    obs: &[Obs],
    anchor: usize,
    with_home: bool,
    at: &Fit,
) -> Vec<f64> {
    let (h, _) = information(k, obs, anchor, with_home, 0.0, at);
    (0..h.len())
        .map(|i| {
            let mut e = vec![0.0; h.len()];
            e[i] = 1.0;
            variance_along(&h, &e).sqrt()
        })
        .collect()
}

/// The standard deviation of `beta[a] - beta[b]` for each pair `(a, b)`, at `at` (fitted
/// with `prior` virtual ties per cell, anchor `anchor`), from the curvature of the likelihood
/// with the prior: the Laplace approximation of how uncertain each order is. Infinite when the
/// games do not link the two.
pub fn difference_sds(
    k: usize,
    obs: &[Obs],
    anchor: usize,
    prior: f64,
    at: &Fit,
    pairs: &[(usize, usize)],
) -> Vec<f64> {
    let (h, pos) = information(k, obs, anchor, false, prior, at);
    pairs
        .iter()
        .map(|&(a, b)| {
            let mut e = vec![0.0; h.len()];
            if let Some(i) = pos[a] {
                e[i] += 1.0;
            }
            if let Some(j) = pos[b] {
                e[j] -= 1.0;
            }
            if e.iter().all(|x| *x == 0.0) {
                0.0
            } else {
                variance_along(&h, &e).sqrt()
            }
        })
        .collect()
}

/// The strongly connected components of the "won or tied against" graph: `i` reaches `j` when
/// `i` took at least half a win from `j`. The maximum-likelihood ratings are finite, relative
/// to each other, exactly within a component (Ford's condition); across components they drift
/// apart without bound. Returns each player's component number; players with no games are
/// components of their own.
pub fn components(k: usize, obs: &[Obs]) -> Vec<usize> {
    let mut adj = vec![Vec::new(); k];
    for o in obs.iter().filter(|o| o.n > 0.0) {
        if o.wins_a > 0.0 {
            adj[o.a].push(o.b);
        }
        if o.wins_a < o.n {
            adj[o.b].push(o.a);
        }
    }
    let reach = |from: usize| {
        let mut seen = vec![false; k];
        let mut stack = vec![from];
        seen[from] = true;
        while let Some(i) = stack.pop() {
            for &j in &adj[i] {
                if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        seen
    };
    let reachable: Vec<Vec<bool>> = (0..k).map(reach).collect();
    let mut comp = vec![usize::MAX; k];
    let mut next = 0;
    for i in 0..k {
        if comp[i] != usize::MAX {
            continue;
        }
        for j in i..k {
            if reachable[i][j] && reachable[j][i] {
                comp[j] = next;
            }
        }
        next += 1;
    }
    comp
}

/// Elo-scale ratings from a fit: `1000 + ELO_PER_NAT · (β − shift)`, where the shift puts the
/// anchor at 1000 or, without an anchor, the mean at 1000.
pub fn elo(fit: &Fit, anchor: Option<usize>) -> Vec<f64> {
    let shift = match anchor {
        Some(a) => fit.beta[a],
        None => fit.beta.iter().sum::<f64>() / fit.beta.len().max(1) as f64,
    };
    fit.beta
        .iter()
        .map(|b| 1000.0 + ELO_PER_NAT * (b - shift))
        .collect()
}

/// The win probability an Elo gap implies.
pub fn win_probability(elo_gap: f64) -> f64 {
    sigmoid(elo_gap / ELO_PER_NAT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(a: usize, b: usize, wins_a: f64, n: f64) -> Obs {
        Obs {
            a,
            b,
            wins_a,
            n,
            home: 0.0,
        }
    }

    #[test]
    fn two_players_three_wins_in_four_is_400_log10_3() {
        let f = fit(2, &[obs(0, 1, 3.0, 4.0)], 1, false, 0.0);
        let r = elo(&f, Some(1));
        // P = 3/4 → odds 3 → gap = 400·log10(3) = 190.848…
        assert!(
            (r[0] - (1000.0 + 400.0 * 3f64.log10())).abs() < 0.01,
            "{r:?}"
        );
        assert_eq!(r[1], 1000.0);
        assert!((win_probability(r[0] - r[1]) - 0.75).abs() < 1e-5);
    }

    #[test]
    fn ties_are_half_wins_and_a_cycle_is_even() {
        // 0 beats 1, 1 beats 2, 2 beats 0, once each: all equal.
        let f = fit(
            3,
            &[
                obs(0, 1, 1.0, 1.0),
                obs(1, 2, 1.0, 1.0),
                obs(2, 0, 1.0, 1.0),
            ],
            0,
            false,
            0.0,
        );
        let r = elo(&f, None);
        assert!(r.iter().all(|x| (x - 1000.0).abs() < 1e-6), "{r:?}");
        // Two ties equal one win and one loss.
        let f = fit(2, &[obs(0, 1, 1.0, 2.0)], 0, false, 0.0);
        assert!(f.beta[1].abs() < 1e-9);
    }

    #[test]
    fn chain_of_known_odds() {
        // 0 vs 1 at 2:1, 1 vs 2 at 2:1, and 0 vs 2 at 4:1: consistent, so the MLE is exact.
        let f = fit(
            3,
            &[
                obs(0, 1, 200.0, 300.0),
                obs(1, 2, 200.0, 300.0),
                obs(0, 2, 400.0, 500.0),
            ],
            2,
            false,
            0.0,
        );
        let r = elo(&f, Some(2));
        assert!((r[1] - 1000.0 - 400.0 * 2f64.log10()).abs() < 0.01, "{r:?}");
        assert!((r[0] - 1000.0 - 400.0 * 4f64.log10()).abs() < 0.01, "{r:?}");
    }

    #[test]
    fn home_advantage_is_recovered() {
        // Equal players; whoever is shown first wins 3 of 4.
        let o = [
            Obs {
                a: 0,
                b: 1,
                wins_a: 30.0,
                n: 40.0,
                home: 1.0,
            },
            Obs {
                a: 1,
                b: 0,
                wins_a: 30.0,
                n: 40.0,
                home: 1.0,
            },
        ];
        let f = fit(2, &o, 0, true, 0.0);
        assert!(f.beta[1].abs() < 1e-6);
        assert!((f.home - 3f64.ln()).abs() < 1e-4, "{}", f.home);
    }

    #[test]
    fn the_prior_is_one_virtual_tie_per_pairing() {
        // Two players: (w + 1/2) / (n + 1), Firth's estimate.
        let f = fit(2, &[obs(0, 1, 10.0, 10.0)], 1, false, PRIOR_TIES);
        assert!((f.beta[0] - 21f64.ln()).abs() < 1e-6, "{}", f.beta[0]);
        let f = fit(2, &[obs(0, 1, 60.0, 80.0)], 1, false, PRIOR_TIES);
        assert!((f.beta[0] - (60.5f64 / 20.5).ln()).abs() < 1e-6);
    }

    fn ordered(a: usize, b: usize, first_wins: f64, n: f64) -> Obs {
        Obs {
            a,
            b,
            wins_a: first_wins,
            n,
            home: 1.0,
        }
    }

    #[test]
    fn the_home_term_is_bound_by_mixed_verdicts_and_not_by_sweeps() {
        // Mixed verdicts in both orders: bound.
        let mixed = [ordered(0, 1, 20.0, 32.0), ordered(1, 0, 18.0, 32.0)];
        assert!(!home_prior_bound(2, &mixed, 1));
        // 0 loses every verdict in both orders: the strengths diverge, and nothing is left
        // to tell the position term (the prior alone would put it at 0).
        let sweep = [ordered(0, 1, 0.0, 32.0), ordered(1, 0, 32.0, 32.0)];
        assert!(home_prior_bound(2, &sweep, 1));
        // The first position wins every verdict of one order, mixed in the other (the demo's
        // case): the term diverges.
        let one_order = [ordered(0, 1, 32.0, 32.0), ordered(1, 0, 3.0, 32.0)];
        assert!(home_prior_bound(2, &one_order, 1));
        // The same, beside a pairing with mixed verdicts: that pairing bounds it.
        let bounded = [
            ordered(0, 1, 32.0, 32.0),
            ordered(1, 0, 3.0, 32.0),
            ordered(2, 1, 20.0, 32.0),
            ordered(1, 2, 18.0, 32.0),
        ];
        assert!(!home_prior_bound(3, &bounded, 1));
    }

    #[test]
    fn components_follow_who_took_points_from_whom() {
        // 0 and 1 trade wins; 2 lost every game to both; 3 never played.
        let o = [
            obs(0, 1, 3.0, 5.0),
            obs(0, 2, 4.0, 4.0),
            obs(1, 2, 2.0, 2.0),
        ];
        let c = components(4, &o);
        assert_eq!(c[0], c[1]);
        assert_ne!(c[0], c[2]);
        assert_ne!(c[3], c[0]);
        assert_ne!(c[3], c[2]);
        // One tie joins a sweeping player to the rest.
        let c = components(2, &[obs(0, 1, 9.5, 10.0)]);
        assert_eq!(c[0], c[1]);
    }
}
