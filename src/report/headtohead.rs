//! The head-to-head of `shinpan compare` as tables (terminal, Markdown) or JSON.

use super::Format;
use super::markup::{Table, num, table};
use crate::aggregate::headtohead::{Game, HeadToHead};

/// The head-to-head in a format.
pub fn render(h: &HeadToHead, format: Format) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        Format::Json => (serde_json::to_string_pretty(h)? + "\n").into_bytes(),
        Format::Md => {
            super::markdown::document(&format!("{} vs {}", h.a, h.b), &tables(h)).into_bytes()
        }
        Format::Table => super::table::render(&tables(h)).into_bytes(),
    })
}

fn ci(v: Option<[f64; 2]>) -> String {
    v.map(|[lo, hi]| format!("[{lo:.3}, {hi:.3}]"))
        .unwrap_or_else(|| "-".into())
}

fn tables(h: &HeadToHead) -> Vec<Table> {
    let title = format!("{} vs {} (judge: {})", h.a, h.b, h.judge);
    let r = &h.overall;
    let changed = h.changed_with_order_games;
    let mut out = vec![table(
        title.clone(),
        vec![
            "games",
            "wins",
            "losses",
            "ties",
            "adjusted",
            "95% CI",
            "consistency",
            "errors",
        ],
        vec![vec![
            h.games.to_string(),
            r.wins.to_string(),
            r.losses.to_string(),
            r.ties.to_string(),
            num(r.adjusted_win_rate, 3),
            ci(h.adjusted_win_rate_ci),
            num(h.position_consistency, 3),
            h.errors.to_string(),
        ]],
        &format!(
            "{a}'s record against {b}: each game judged twice with the answers swapped, won only \
             when both orders agree, a tie otherwise. Adjusted = (wins + ties/2) / games, with \
             its 95% bootstrap interval; consistency = share of games whose two orders agree \
             ({changed} changed with the order).",
            a = h.a,
            b = h.b
        ),
    )];
    if !h.categories.is_empty() {
        out.push(table(
            format!("{title}: per category"),
            vec!["category", "wins", "losses", "ties", "adjusted"],
            h.categories
                .iter()
                .map(|(c, r)| {
                    vec![
                        c.clone(),
                        r.wins.to_string(),
                        r.losses.to_string(),
                        r.ties.to_string(),
                        num(r.adjusted_win_rate, 3),
                    ]
                })
                .collect(),
            "A's record per question category; few questions per category make these rough.",
        ));
    }
    for (what, games, total, note) in [
        (
            "changed with the order",
            &h.changed_with_order,
            h.changed_with_order_games,
            "The judge named a different winner when the answers were swapped: position bias, or \
             answers too close to call.",
        ),
        (
            &*format!("won by {}", h.a),
            &h.a_won,
            r.wins,
            "Games the judge gave A in both orders.",
        ),
        (
            &*format!("won by {}", h.b),
            &h.b_won,
            r.losses,
            "Games the judge gave B in both orders.",
        ),
    ] {
        if games.is_empty() {
            continue;
        }
        out.push(games_table(
            &format!("{title}: {what}"),
            games,
            total,
            note,
            h,
        ));
    }
    out
}

fn games_table(title: &str, games: &[Game], total: usize, note: &str, h: &HeadToHead) -> Table {
    let a_first = format!("{} first", h.a);
    let b_first = format!("{} first", h.b);
    let title = if games.len() < total {
        format!("{title} ({} of {total})", games.len())
    } else {
        title.to_string()
    };
    table(
        title,
        vec!["question", "turn", "category", &a_first, &b_first],
        games
            .iter()
            .map(|g| {
                vec![
                    g.question_id.to_string(),
                    g.turn.to_string(),
                    g.category.clone().unwrap_or_default(),
                    g.a_first.clone(),
                    g.b_first.clone(),
                ]
            })
            .collect(),
        &format!(
            "{note} {} of {total} listed (--show N); `shinpan export RUN` has the answers and the judge's explanations.",
            games.len()
        ),
    )
}
