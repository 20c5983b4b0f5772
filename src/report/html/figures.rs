//! The figures of a report on the page: the bias figures at a glance, the leaderboard with
//! its intervals, and the per-category (and per-aspect) charts.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::charts::{self, Bar, Scale};
use super::items;
use super::text::esc;
use crate::aggregate::{ModelSummary, PairSummary, Report, SingleSummary};
use crate::report::markup::{ci, num};
use crate::review::ReviewRecord;

pub(super) fn singles(r: &Report) -> Vec<&SingleSummary> {
    r.models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Single(s) => Some(s),
            _ => None,
        })
        .collect()
}

pub(super) fn pairs(r: &Report) -> Vec<&PairSummary> {
    r.models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Pair(p) => Some(p),
            _ => None,
        })
        .collect()
}

pub(super) fn figure(title: &str, note: &str, chart: &str, out: &mut String) {
    let _ = write!(
        out,
        r#"<h3>{}</h3><div class="figure">{chart}</div><p class="muted">{}</p>"#,
        esc(title),
        esc(note)
    );
}

/// The bias figures at a glance.
pub(super) fn cards(r: &Report) -> String {
    let mut cards = Vec::new();
    if let Some(p) = &r.position_bias {
        cards.push((
            "position consistency",
            num(p.consistency, 3),
            format!("of {} games, the two orders agree", p.games),
        ));
        cards.push((
            "first position wins",
            num(p.first_position_win_rate, 3),
            format!(
                "of {} decisive verdicts (0.5 = no bias)",
                p.decisive_verdicts
            ),
        ));
        cards.push((
            "home advantage (Elo)",
            num(p.home_advantage_elo, 0),
            match &p.home_advantage_not_estimable {
                Some(why) => format!("not estimable: {why}"),
                None => format!("95% CI {}", ci(p.home_advantage_ci, 0)),
            },
        ));
    }
    if let Some(l) = &r.length_bias {
        cards.push((
            "length correlation",
            num(l.correlation, 3),
            format!(
                "{} with answer length over {} {}",
                if r.position_bias.is_some() {
                    "outcome"
                } else {
                    "score"
                },
                l.n,
                if r.position_bias.is_some() {
                    "games"
                } else {
                    "grades"
                }
            ),
        ));
    }
    if cards.is_empty() {
        return String::new();
    }
    let mut out = String::from(r#"<div class="cards">"#);
    for (name, v, note) in cards {
        let _ = write!(
            out,
            r#"<div class="card"><span class="muted">{}</span><b>{}</b><span class="muted">{}</span></div>"#,
            esc(name),
            esc(&v),
            esc(&note)
        );
    }
    out.push_str("</div>");
    out
}

/// The axis grades are drawn on: from 0 to the top of their scale.
fn grade_axis(scale: crate::types::Scale) -> Scale {
    Scale {
        lo: 0.0,
        hi: f64::from(scale.max),
        reference: None,
    }
}

pub(super) fn leaderboard(r: &Report) -> String {
    let mut out = String::new();
    let s = singles(r);
    if !s.is_empty() {
        let bars: Vec<Bar> = s
            .iter()
            .map(|m| Bar {
                label: m.model.clone(),
                value: m.score,
                ci: m.score_ci,
                text: format!("{} {}", num(m.score, 2), ci(m.score_ci, 2)),
            })
            .collect();
        let scale = r.scale.unwrap_or_default();
        figure(
            "Leaderboard: mean score",
            &format!(
                "Mean grade (on the {scale} scale) over every judged turn, with its 95% bootstrap interval."
            ),
            &charts::bars("Mean score", &bars, grade_axis(scale)),
            &mut out,
        );
    }
    let p = pairs(r);
    if !p.is_empty() {
        let bars: Vec<Bar> = p
            .iter()
            .map(|m| Bar {
                label: m.model.clone(),
                value: m.adjusted_win_rate,
                ci: m.adjusted_win_rate_ci,
                text: format!(
                    "{} {}",
                    num(m.adjusted_win_rate, 3),
                    ci(m.adjusted_win_rate_ci, 3)
                ),
            })
            .collect();
        let against = match &r.baseline {
            Some(b) => format!("against {b}"),
            None => "over all its games".into(),
        };
        figure(
            &format!("Leaderboard: adjusted win rate {against}"),
            "(wins + ties/2) / games, each game judged in both orders, with its 95% bootstrap interval; the dashed line is an even record.",
            &charts::bars(
                "Adjusted win rate",
                &bars,
                Scale {
                    lo: 0.0,
                    hi: 1.0,
                    reference: Some(0.5),
                },
            ),
            &mut out,
        );
        if r.baseline.is_none() {
            let bars: Vec<Bar> = p
                .iter()
                .map(|m| Bar {
                    label: m.model.clone(),
                    value: m.bt_rating,
                    ci: m.bt_ci,
                    text: match &m.bt_not_estimable {
                        Some(_) => "not estimable".into(),
                        None => format!("{} {}", num(m.bt_rating, 0), ci(m.bt_ci, 0)),
                    },
                })
                .collect();
            let scale = Scale::around(&bars, Some(1000.0));
            figure(
                "Bradley-Terry ratings",
                "Elo-scale strength from every game (the mean is 1000), with its 95% bootstrap interval.",
                &charts::bars("Bradley-Terry ratings", &bars, scale),
                &mut out,
            );
        }
    }
    out
}

/// Bars grouped by `keys` (categories, aspects), one per model, from `value(model, key)`.
fn groups<'a>(
    keys: impl IntoIterator<Item = String>,
    models: &[&'a str],
    value: impl Fn(&'a str, &str) -> (Option<f64>, Option<[f64; 2]>),
    digits: usize,
) -> Vec<(String, Vec<Bar>)> {
    keys.into_iter()
        .map(|k| {
            let bars = models
                .iter()
                .map(|m| {
                    let (v, interval) = value(m, &k);
                    Bar {
                        label: m.to_string(),
                        value: v,
                        ci: interval,
                        text: num(v, digits),
                    }
                })
                .collect();
            (k, bars)
        })
        .collect()
}

/// Per-category charts: mean score per category (and per aspect for a rubric) of graded
/// reports; adjusted win rate per category of pairwise ones, from their games.
pub(super) fn categories(r: &Report, items: &[&ReviewRecord]) -> String {
    let mut out = String::new();
    let names: Vec<String> = r
        .models
        .iter()
        .map(|m| match m {
            ModelSummary::Single(s) => s.model.clone(),
            ModelSummary::Pair(p) => p.model.clone(),
        })
        .collect();
    let models: Vec<&str> = names.iter().map(String::as_str).collect();
    let grades = grade_axis(r.scale.unwrap_or_default());
    let s = singles(r);
    let single = |m: &str| s.iter().find(|x| x.model == m).copied();
    let cats: BTreeSet<String> = s
        .iter()
        .flat_map(|m| m.categories.keys().cloned())
        .collect();
    if !cats.is_empty() {
        let g = groups(
            cats,
            &models,
            |m, c| {
                let f = single(m).and_then(|x| x.categories.get(c));
                (f.and_then(|f| f.score), f.and_then(|f| f.score_ci))
            },
            2,
        );
        figure(
            "Mean score per category",
            "Mean grade per question category with its 95% interval; few questions per category make these rough.",
            &charts::grouped("Mean score per category", &g, &names, grades),
            &mut out,
        );
    }
    if !s.is_empty() && !r.aspects.is_empty() {
        let g = groups(
            r.aspects.iter().cloned(),
            &models,
            |m, a| {
                let f = single(m).and_then(|x| x.aspects.get(a));
                (f.and_then(|f| f.score), f.and_then(|f| f.score_ci))
            },
            2,
        );
        figure(
            "Mean grade per aspect",
            "The rubric's aspects in the configured order, each with its 95% interval.",
            &charts::grouped("Mean grade per aspect", &g, &names, grades),
            &mut out,
        );
    }
    if !pairs(r).is_empty() {
        let rates = items::category_win_rates(items, r.baseline.as_deref());
        let g = groups(
            rates.keys().cloned(),
            &models,
            |m, c| {
                let v = rates[c].get(m).map(|(sum, n)| sum / *n as f64);
                (v, None)
            },
            3,
        );
        if !g.is_empty() {
            figure(
                "Adjusted win rate per category",
                "Each model's adjusted win rate within a question category (no interval: few games per category).",
                &charts::grouped(
                    "Adjusted win rate per category",
                    &g,
                    &names,
                    Scale {
                        lo: 0.0,
                        hi: 1.0,
                        reference: Some(0.5),
                    },
                ),
                &mut out,
            );
        }
    }
    out
}
