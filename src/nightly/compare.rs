//! A run against the previous comparable one: the change of each model's watched figure with
//! its 95% interval, and whether it is a regression the gate fails on.
//!
//! The interval of a change comes from the two runs' intervals: each is read as a normal
//! interval (standard error = width / 3.92), the errors add in quadrature, and the change is
//! outside the noise when its interval excludes 0. A regression is a drop larger than the
//! threshold *and* outside the noise, for a watched model; a large drop within the noise is
//! reported, not failed on, and a run without intervals (`--bootstrap 0`) never fails the gate.

use serde::Serialize;

use crate::error::UsageError;
use crate::records::{HistoryLine, SeriesKey};

/// How far a figure may drop before the gate fails: in points of a 1-10 grade (single,
/// rubric) and in adjusted win rate (pairwise; 0-1). A grade on another scale is held to the
/// same share of its range: 0.3 on 1-10 is 0.3 × 4/9 = 0.133 on 1-5.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// Largest tolerated drop of a mean score.
    pub score: f64,
    /// Largest tolerated drop of an adjusted win rate.
    pub win_rate: f64,
}

impl Threshold {
    /// Reads `0.3` (both figures) or `score=0.3,win_rate=0.05` (either or both); `what` names
    /// the flag or key in errors.
    pub fn parse(s: &str, what: &str) -> Result<Self, UsageError> {
        let bad = |m: &str| UsageError(format!("{what} {s:?}: {m}"));
        let num = |v: &str| -> Result<f64, UsageError> {
            match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => Err(bad("expected a number ≥ 0, or score=N,win_rate=N")),
            }
        };
        if !s.contains('=') {
            let x = num(s)?;
            return Ok(Threshold {
                score: x,
                win_rate: x,
            });
        }
        let mut t = Threshold {
            score: f64::INFINITY,
            win_rate: f64::INFINITY,
        };
        for part in s.split(',') {
            match part.split_once('=').map(|(k, v)| (k.trim(), v)) {
                Some(("score", v)) => t.score = num(v)?,
                Some(("win_rate", v)) => t.win_rate = num(v)?,
                _ => return Err(bad("keys are score and win_rate")),
            }
        }
        Ok(t)
    }

    /// The threshold of a metric, on the scale its grades are on (`None`: 1-10, or a win
    /// rate).
    pub fn of(&self, metric: &str, scale: Option<crate::types::Scale>) -> f64 {
        if metric == "score" {
            let ten = crate::types::Scale::TEN.span();
            self.score * scale.map_or(1.0, |s| s.span() / ten)
        } else {
            self.win_rate
        }
    }
}

/// What a change amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Dropped by more than the threshold, outside the noise, on a watched model: fails the
    /// gate.
    Regressed,
    /// Dropped outside the noise, but not a regression (within the threshold, no threshold
    /// given, or not watched).
    Fell,
    /// The interval of the change includes no change.
    WithinNoise,
    /// Rose outside the noise.
    Improved,
    /// A run had no interval, so the change cannot be told from noise.
    NoInterval,
}

/// One model's watched figure, against the previous comparable run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// The model, mode, judge, baseline and figure.
    #[serde(flatten)]
    pub key: SeriesKey,
    /// The previous comparable run.
    pub previous_run: String,
    /// Its value and interval.
    pub previous: f64,
    pub previous_ci: Option<[f64; 2]>,
    /// This run's value and interval.
    pub current: f64,
    pub current_ci: Option<[f64; 2]>,
    /// current − previous.
    pub change: f64,
    /// Its 95% interval.
    pub change_ci: Option<[f64; 2]>,
    /// Whether the gate watches the model.
    pub watched: bool,
    /// The scale of a mean grade (absent: a win rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<crate::types::Scale>,
    /// The drop the gate tolerates, on the figure's own scale (`null`: no gate).
    pub threshold: Option<f64>,
    /// What the change amounts to.
    pub status: Status,
}

const Z: f64 = 1.959_963_984_540_054;

/// The interval of `b − a` from the intervals of `a` and `b`.
fn change_interval(change: f64, a: Option<[f64; 2]>, b: Option<[f64; 2]>) -> Option<[f64; 2]> {
    let se = |ci: [f64; 2]| (ci[1] - ci[0]).max(0.0) / (2.0 * Z);
    let (a, b) = (a?, b?);
    let half = Z * (se(a).powi(2) + se(b).powi(2)).sqrt();
    Some([change - half, change + half])
}

/// The changes of `current` (one run's lines) against the latest comparable earlier lines of
/// `history` (the same model, mode, judge, baseline, metric and question set; another run;
/// not partial; with a value). `watch`: the models the gate watches (`None`: all).
pub fn changes(
    history: &[HistoryLine],
    current: &[HistoryLine],
    threshold: Option<Threshold>,
    watch: Option<&[String]>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for c in current {
        let Some(now) = c.value else { continue };
        let prev = history.iter().rev().find(|h| {
            h.key == c.key
                && h.scale.unwrap_or_default() == c.scale.unwrap_or_default()
                && h.questions_digest == c.questions_digest
                && h.run != c.run
                && !h.partial
                && h.value.is_some()
        });
        let Some(p) = prev else { continue };
        let before = p.value.expect("filtered on a value");
        let change = now - before;
        let change_ci = change_interval(change, p.ci, c.ci);
        let watched = watch.is_none_or(|w| w.iter().any(|m| m == &c.key.model));
        let limit = threshold.map(|t| t.of(&c.key.metric, c.scale));
        let status = match change_ci {
            None => Status::NoInterval,
            Some([_, hi]) if hi < 0.0 => {
                if watched && !c.partial && limit.is_some_and(|l| -change > l) {
                    Status::Regressed
                } else {
                    Status::Fell
                }
            }
            Some([lo, _]) if lo > 0.0 => Status::Improved,
            Some(_) => Status::WithinNoise,
        };
        out.push(Change {
            key: c.key.clone(),
            previous_run: p.run.clone(),
            previous: before,
            previous_ci: p.ci,
            current: now,
            current_ci: c.ci,
            change,
            change_ci,
            watched,
            scale: c.scale,
            threshold: limit.filter(|l| l.is_finite()),
            status,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(run: &str, model: &str, value: f64, ci: [f64; 2]) -> HistoryLine {
        HistoryLine {
            date: format!("{run}T03:00:00Z"),
            run: run.into(),
            config_digest: "sha256:c".into(),
            questions_digest: "sha256:q".into(),
            key: SeriesKey {
                model: model.into(),
                mode: "single".into(),
                judge: "j".into(),
                baseline: None,
                metric: "score".into(),
            },
            value: Some(value),
            ci: Some(ci),
            scale: None,
            n: 160,
            errors: 0,
            partial: false,
            regressed: false,
            figures: Default::default(),
            answer_tokens: 0,
            judge_tokens: 0,
            run_tokens: 0,
            answer_cost: None,
            run_cost: None,
            shinpan: "0".into(),
        }
    }

    #[test]
    fn thresholds_read_one_number_or_per_figure() {
        assert_eq!(
            Threshold::parse("0.3", "--x").unwrap(),
            Threshold {
                score: 0.3,
                win_rate: 0.3
            }
        );
        let t = Threshold::parse("win_rate=0.05", "--x").unwrap();
        assert_eq!((t.score, t.win_rate), (f64::INFINITY, 0.05));
        for bad in ["-1", "x", "score=", "elo=3"] {
            let e = Threshold::parse(bad, "--fail-on-regression").unwrap_err().0;
            assert!(e.starts_with("--fail-on-regression"), "{e}");
        }
    }

    #[test]
    fn a_regression_is_beyond_the_threshold_and_outside_the_noise() {
        let t = Some(Threshold {
            score: 0.3,
            win_rate: 0.05,
        });
        let history = vec![
            line("2026-11-29", "m", 5.0, [4.8, 5.2]),
            line("2026-11-30", "m", 7.0, [6.8, 7.2]),
        ];
        // A drop of 1.0 with narrow intervals: regressed, against the latest run.
        let c = &changes(
            &history,
            &[line("2026-12-01", "m", 6.0, [5.8, 6.2])],
            t,
            None,
        )[0];
        assert_eq!(
            (c.previous_run.as_str(), c.status),
            ("2026-11-30", Status::Regressed)
        );
        let [lo, hi] = c.change_ci.unwrap();
        assert!(
            (lo - -1.283).abs() < 0.01 && (hi - -0.717).abs() < 0.01,
            "{lo} {hi}"
        );
        // The same drop with wide intervals is within the noise.
        let c = &changes(
            &history,
            &[line("2026-12-01", "m", 6.0, [4.5, 7.5])],
            t,
            None,
        )[0];
        assert_eq!(c.status, Status::WithinNoise);
        // A real drop below the threshold, or on an unwatched model, is reported only.
        let c = &changes(
            &history,
            &[line("2026-12-01", "m", 6.75, [6.7, 6.8])],
            t,
            None,
        )[0];
        assert_eq!(c.status, Status::Fell);
        let watch = ["other".to_string()];
        let c = &changes(
            &history,
            &[line("2026-12-01", "m", 6.0, [5.8, 6.2])],
            t,
            Some(&watch),
        )[0];
        assert_eq!((c.watched, c.status), (false, Status::Fell));
        // Another question set, or a partial previous run, is not comparable.
        let mut other = line("2026-12-01", "m", 6.0, [5.8, 6.2]);
        other.questions_digest = "sha256:other".into();
        assert!(changes(&history, &[other], t, None).is_empty());
        let mut partial = history.clone();
        partial[1].partial = true;
        let c = &changes(
            &partial,
            &[line("2026-12-01", "m", 6.0, [5.8, 6.2])],
            t,
            None,
        )[0];
        assert_eq!(
            (c.previous_run.as_str(), c.status),
            ("2026-11-29", Status::Improved)
        );
    }
}
