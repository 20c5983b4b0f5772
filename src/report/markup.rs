//! The table model shared by the terminal and Markdown exporters, and the cells they format.

use unicode_width::UnicodeWidthStr;

use crate::aggregate::{Mode, ModelSummary, Report};

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A titled table of strings.
#[derive(Debug, Clone)]
pub struct Table {
    /// Heading shown above the table.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Alignment per column.
    pub align: Vec<Align>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// Display width of a string in terminal columns (CJK characters count two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Pads `s` to `w` columns.
pub fn pad(s: &str, w: usize, align: Align) -> String {
    let fill = " ".repeat(w.saturating_sub(width(s)));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The tables that present one report.
pub fn tables(r: &Report) -> Vec<Table> {
    let title = match (&r.mode, &r.baseline) {
        (Mode::PairwiseBaseline, Some(b)) => {
            format!("{} (judge: {}, baseline: {b})", r.mode.as_str(), r.judge)
        }
        _ => format!("{} (judge: {})", r.mode.as_str(), r.judge),
    };
    let mut out = Vec::new();
    let singles: Vec<_> = r
        .models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Single(s) => Some(s),
            _ => None,
        })
        .collect();
    let pairs: Vec<_> = r
        .models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Pair(p) => Some(p),
            _ => None,
        })
        .collect();
    if !singles.is_empty() {
        let has_turn2 = singles.iter().any(|s| s.turn2.is_some());
        let mut headers = vec!["model", "score", "turn 1"];
        if has_turn2 {
            headers.push("turn 2");
        }
        headers.extend(["n", "errors"]);
        let rows = singles
            .iter()
            .map(|s| {
                let mut row = vec![s.model.clone(), num(s.score, 2), num(s.turn1, 2)];
                if has_turn2 {
                    row.push(num(s.turn2, 2));
                }
                row.extend([s.n.to_string(), s.errors.to_string()]);
                row
            })
            .collect();
        out.push(table(title.clone(), headers, rows));
        let mut cats: Vec<&String> = singles.iter().flat_map(|s| s.categories.keys()).collect();
        cats.sort();
        cats.dedup();
        if !cats.is_empty() {
            let mut headers: Vec<&str> = vec!["model"];
            headers.extend(cats.iter().map(|c| c.as_str()));
            let rows = singles
                .iter()
                .map(|s| {
                    let mut row = vec![s.model.clone()];
                    row.extend(
                        cats.iter()
                            .map(|c| num(s.categories.get(*c).and_then(|x| x.score), 2)),
                    );
                    row
                })
                .collect();
            out.push(table(format!("{title}: score per category"), headers, rows));
        }
    }
    if !pairs.is_empty() {
        let headers = vec![
            "model",
            "wins",
            "losses",
            "ties",
            "errors",
            "win rate",
            "loss rate",
            "adjusted",
            "consistency",
        ];
        let rows = pairs
            .iter()
            .map(|p| {
                vec![
                    p.model.clone(),
                    p.wins.to_string(),
                    p.losses.to_string(),
                    p.ties.to_string(),
                    p.errors.to_string(),
                    num(p.win_rate, 3),
                    num(p.loss_rate, 3),
                    num(p.adjusted_win_rate, 3),
                    num(p.position_consistency, 3),
                ]
            })
            .collect();
        out.push(table(title, headers, rows));
    }
    out
}

fn table(title: String, headers: Vec<&str>, rows: Vec<Vec<String>>) -> Table {
    let align = (0..headers.len())
        .map(|i| if i == 0 { Align::Left } else { Align::Right })
        .collect();
    Table {
        title,
        headers: headers.into_iter().map(str::to_string).collect(),
        align,
        rows,
    }
}

/// Column widths fitting headers and cells.
pub fn column_widths(t: &Table) -> Vec<usize> {
    (0..t.headers.len())
        .map(|i| {
            t.rows
                .iter()
                .map(|r| r.get(i).map(|c| width(c)).unwrap_or(0))
                .chain([width(&t.headers[i])])
                .max()
                .unwrap_or(0)
        })
        .collect()
}
