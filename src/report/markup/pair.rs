//! The tables of pairwise reports: wins, ratings, position bias, inconsistent games.

use super::{LISTED, Table, ci, num, table};
use crate::aggregate::{PairSummary, PositionBias, Report};

/// The pairwise table, then the reasons for ratings that are not estimable, if any.
pub(super) fn pair_tables(title: &str, r: &Report, pairs: &[&PairSummary]) -> Vec<Table> {
    let mut out = vec![pair_table(title, r, pairs)];
    let unrated: Vec<Vec<String>> = pairs
        .iter()
        .filter_map(|p| {
            p.bt_not_estimable
                .as_ref()
                .map(|why| vec![p.model.clone(), why.clone()])
        })
        .collect();
    if let Some(s) = &r.style_control {
        out.extend(style_tables(title, r, pairs, s));
    }
    if !unrated.is_empty() {
        out.push(table(
            format!("{title}: ratings not estimable"),
            vec!["model", "why"],
            unrated,
            "These models' Bradley-Terry ratings (and implied win rates) are not reported: their \
             games alone put no bound on them, so any number would be the prior's, not the data's. \
             Their win rates above are exact.",
        ));
    }
    out
}

/// The ratings with style controlled beside the plain ones, and the style coefficients.
fn style_tables(
    title: &str,
    r: &Report,
    pairs: &[&PairSummary],
    s: &crate::aggregate::style::StyleControl,
) -> Vec<Table> {
    let mut rows: Vec<Vec<String>> = pairs
        .iter()
        .map(|p| {
            vec![
                p.model.clone(),
                not_estimable(num(p.bt_rating, 0), &p.bt_not_estimable),
                not_estimable(num(p.style_bt_rating, 0), &p.bt_not_estimable),
                ci(p.style_bt_ci, 0),
                num(p.answer_chars, 0),
            ]
        })
        .collect();
    rows.sort_by(|a, b| {
        let v = |r: &Vec<String>| r[2].parse::<f64>().unwrap_or(f64::MIN);
        v(b).total_cmp(&v(a))
    });
    let anchor = match &r.baseline {
        Some(b) => format!("{b} at 1000"),
        None => "the mean at 1000".to_string(),
    };
    let ratings = table(
        format!("{title}: style control"),
        vec!["model", "BT rating", "style-controlled", "95% CI", "chars"],
        rows,
        &format!(
            "Bradley-Terry ratings with answer length and Markdown density (headers, list items,              bold; code blocks removed) fitted as covariates, as Chatbot Arena's style control              does: what each model would rate if its answers were as long and as formatted as its              opponents' ({anchor}; 95% bootstrap interval over {} games). Length is in              characters, not tokens.",
            s.games
        ),
    );
    let coefficients = table(
        format!("{title}: style coefficients"),
        vec!["feature", "coefficient", "95% CI"],
        s.coefficients
            .iter()
            .map(|c| {
                vec![
                    c.feature.clone(),
                    format!("{:+.3}", c.coefficient),
                    ci(c.ci, 3),
                ]
            })
            .collect(),
        "Each feature is (a − b) / (a + b + 1) of the two answers (length; Markdown elements per          character), divided by its standard deviation over the games; a coefficient is the          change in the log-odds of winning per standard deviation: positive, the judge favours          longer (or more formatted) answers.",
    );
    vec![ratings, coefficients]
}

fn pair_table(title: &str, r: &Report, pairs: &[&PairSummary]) -> Table {
    let with_baseline = r.baseline.is_some();
    let mut headers = vec![
        "model",
        "wins",
        "losses",
        "ties",
        "errors",
        "win rate",
        "loss rate",
        "adjusted",
        "95% CI",
        "consistency",
        "BT rating",
        "95% CI",
    ];
    if with_baseline {
        headers.extend(["pred. win", "95% CI"]);
    }
    let has_text = pairs.iter().any(|p| p.answer_chars.is_some());
    let has_lc = pairs.iter().any(|p| p.lc_win_rate.is_some());
    if has_lc {
        headers.push("LC win");
    }
    let has_preference = pairs.iter().any(|p| p.preference_win_rate.is_some());
    if has_preference {
        headers.push("pref. win");
    }
    let has_arena = pairs.iter().any(|p| p.arena_hard_score.is_some());
    if has_arena {
        headers.push("Arena-Hard");
    }
    if has_text {
        headers.extend(["chars", "non-ja"]);
    }
    let has_thought = pairs.iter().any(|p| p.reasoning_chars.is_some());
    if has_thought {
        headers.push("thinking chars");
    }
    let rows = pairs
        .iter()
        .map(|p| {
            let mut row = vec![
                p.model.clone(),
                p.wins.to_string(),
                p.losses.to_string(),
                p.ties.to_string(),
                p.errors.to_string(),
                num(p.win_rate, 3),
                num(p.loss_rate, 3),
                num(p.adjusted_win_rate, 3),
                ci(p.adjusted_win_rate_ci, 3),
                num(p.position_consistency, 3),
                not_estimable(num(p.bt_rating, 0), &p.bt_not_estimable),
                ci(p.bt_ci, 0),
            ];
            if with_baseline {
                row.push(not_estimable(
                    num(p.predicted_win_rate, 3),
                    &p.bt_not_estimable,
                ));
                row.push(ci(p.predicted_win_rate_ci, 3));
            }
            if has_lc {
                row.push(num(p.lc_win_rate, 3));
            }
            if has_preference {
                row.push(num(p.preference_win_rate, 3));
            }
            if has_arena {
                row.push(num(p.arena_hard_score, 3));
            }
            if has_text {
                row.extend([num(p.answer_chars, 0), num(p.non_japanese, 3)]);
            }
            if has_thought {
                row.push(num(p.reasoning_chars, 0));
            }
            row
        })
        .collect();
    let anchor = match &r.baseline {
        Some(b) => format!("{b} is fixed at 1000"),
        None => "the mean is 1000".to_string(),
    };
    table(
        title.to_string(),
        headers,
        rows,
        &format!(
            "Each game is judged twice with the answers swapped; it is a tie when either order says \
             tie or the orders disagree. Adjusted = (wins + ties/2) / games, with its 95% bootstrap \
             interval over games; consistency = share of \
             games whose two orders agree; errors = games without a verdict in an order. BT rating: \
             Bradley-Terry strength on the Elo scale ({anchor}; +400 = 10:1 odds) with its 95% \
             bootstrap interval over games{}.",
            if r.baseline.is_some() {
                "; pred. win: the win rate against the baseline that the ratings imply; LC win: \
                 length-controlled win rate, the win rate predicted at equal answer length (one \
                 joint fit over the models here); pref. win: the mean of continuous preferences \
                 (AlpacaEval's win rate); Arena-Hard: Arena-Hard-Auto's score, each order a \
                 battle and a strong verdict (A>>B) three; chars: mean answer length; non-ja: \
                 share of answers to Japanese questions not in Japanese"
            } else {
                "; chars: mean answer length; non-ja: share of answers to Japanese questions \
                 not in Japanese"
            }
        ),
    )
}

pub(super) fn position_tables(title: &str, p: &PositionBias, out: &mut Vec<Table>) {
    let rows = vec![
        vec![
            "games judged in both orders".into(),
            p.games.to_string(),
            String::new(),
        ],
        vec!["consistency".into(), num(p.consistency, 3), String::new()],
        vec![
            "first-position win rate".into(),
            num(p.first_position_win_rate, 3),
            format!("of {} decisive verdicts", p.decisive_verdicts),
        ],
        vec![
            "home advantage (Elo)".into(),
            not_estimable(
                num(p.home_advantage_elo, 1),
                &p.home_advantage_not_estimable,
            ),
            ci(p.home_advantage_ci, 1),
        ],
        vec![
            "first-position win probability".into(),
            not_estimable(
                num(p.first_position_win_probability, 3),
                &p.home_advantage_not_estimable,
            ),
            "between equal answers".into(),
        ],
    ];
    let why = p
        .home_advantage_not_estimable
        .as_ref()
        .map(|w| format!(" Not estimable (n/e) here: {w}."))
        .unwrap_or_default();
    let mut t = table(
        format!("{title}: position bias"),
        vec!["measure", "value", "95% CI / basis"],
        rows,
        &format!(
            "Consistency: share of games whose two orders agree. First-position win rate: share of \
             decisive single-order verdicts won by the answer shown first (0.5 = no bias). Home \
             advantage: the first position's edge in Elo points from a Bradley-Terry fit with a \
             position term, with its bootstrap interval (an interval excluding 0 is a real bias).{why}"
        ),
    );
    t.alert = p
        .home_advantage_not_estimable
        .as_ref()
        .map(|w| format!("home advantage not estimable (n/e): {w}"));
    out.push(t);
    if !p.inconsistent.is_empty() {
        out.push(inconsistent_table(title, p));
    }
}

/// The games whose verdict changed when the answers were swapped.
fn inconsistent_table(title: &str, p: &PositionBias) -> Table {
    let rows = p
        .inconsistent
        .iter()
        .take(LISTED)
        .map(|g| {
            vec![
                g.question_id.to_string(),
                g.turn.to_string(),
                g.model_1.clone(),
                g.model_2.clone(),
                winner(g.g1_winner),
                winner(g.g2_winner),
            ]
        })
        .collect();
    let more = p.inconsistent_games.saturating_sub(LISTED);
    table(
        format!("{title}: inconsistent games"),
        vec![
            "question",
            "turn",
            "model_1",
            "model_2",
            "model_1 first",
            "model_2 first",
        ],
        rows,
        &format!(
            "Games whose verdict changed when the answers were swapped (winners named by model){}.",
            if more > 0 {
                format!("; {more} more (the JSON report lists up to --max-listed)")
            } else {
                String::new()
            }
        ),
    )
}

fn winner(w: crate::types::Winner) -> String {
    use crate::types::Winner;
    match w {
        Winner::Model1 => "model_1",
        Winner::Model2 => "model_2",
        Winner::Tie => "tie",
        Winner::Error => "error",
    }
    .to_string()
}

/// `n/e` (not estimable) in place of a figure the data do not bound.
fn not_estimable(cell: String, why: &Option<String>) -> String {
    if why.is_some() { "n/e".into() } else { cell }
}
