//! The board over nightly runs (`shinpan board --history OUT…`): each `OUT` a recurring run's
//! directory (`OUT/<night>/`, as a config's `[nightly]` run writes it), the runs of one night
//! across them put on one board, and each model's figures followed night by night. A change
//! is given only between nights whose average covers the same columns: a benchmark's new
//! version is a new column, and an average over other columns is not comparable.

use serde::Serialize;

use super::{Board, cell};
use crate::report::markup::{Table, num, table};

/// One night's board.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Night {
    /// Its name (the night's directory: the UTC date, or the run's `--name`).
    pub night: String,
    /// The board of its runs.
    pub board: Board,
}

/// One model on one night.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// The night.
    pub night: String,
    /// The board's average for the model that night.
    pub average: Option<f64>,
    /// The headline columns the average covers.
    pub columns: Vec<String>,
    /// The change of the average from the model's previous night, when both cover the same
    /// columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<f64>,
    /// The average covers other columns than the previous night's (not comparable).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub columns_changed: bool,
    /// The preset's headline that night (TOTAL, else its filled counterpart, else GLP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<f64>,
    /// The board file's total that night.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own_total: Option<f64>,
}

/// One model's nights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// The model.
    pub model: String,
    /// Its nights, oldest first (only those it has a figure on).
    pub points: Vec<Point>,
}

/// The board's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoardHistory {
    /// Every night's board, oldest first.
    pub nights: Vec<Night>,
    /// Each model's series, in the order of the last night's board.
    pub models: Vec<Series>,
}

/// A preset row's headline: TOTAL, else the weighted total over what is filled, else GLP,
/// else the mean of the filled GLP categories.
fn preset_headline(r: &super::nejumi::PresetRow) -> Option<f64> {
    r.total.or(r.total_partial).or(r.glp).or(r.glp_partial)
}

/// The history of `nights` (name, board), in name order (dates sort as days).
pub fn history(mut nights: Vec<Night>) -> BoardHistory {
    nights.sort_by(|a, b| a.night.cmp(&b.night));
    let mut order: Vec<String> = Vec::new();
    for n in nights.iter().rev() {
        for r in &n.board.rows {
            if !order.contains(&r.model) {
                order.push(r.model.clone());
            }
        }
    }
    let models = order
        .into_iter()
        .map(|model| {
            let mut points: Vec<Point> = Vec::new();
            for n in &nights {
                let b = &n.board;
                let Some(row) = b.rows.iter().find(|r| r.model == model) else {
                    continue;
                };
                let columns: Vec<String> = b
                    .columns
                    .iter()
                    .zip(&row.cells)
                    .filter(|(c, v)| c.kind.headline() && v.is_some())
                    .map(|(c, _)| c.name.clone())
                    .collect();
                let (change, columns_changed) = match points.last() {
                    Some(p) if p.columns == columns => {
                        (row.average.zip(p.average).map(|(a, b)| a - b), false)
                    }
                    Some(_) => (None, true),
                    None => (None, false),
                };
                points.push(Point {
                    night: n.night.clone(),
                    average: row.average,
                    columns,
                    change,
                    columns_changed,
                    preset: b
                        .preset
                        .as_ref()
                        .and_then(|p| p.rows.iter().find(|r| r.model == model))
                        .and_then(preset_headline),
                    own_total: b
                        .own
                        .as_ref()
                        .and_then(|o| o.rows.iter().find(|r| r.model == model))
                        .and_then(|r| r.total),
                });
            }
            Series { model, points }
        })
        .collect();
    BoardHistory { nights, models }
}

/// Every headline column of any night, in first-seen order.
fn headline_columns(h: &BoardHistory) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in &h.nights {
        for c in n.board.columns.iter().filter(|c| c.kind.headline()) {
            if !out.contains(&c.name) {
                out.push(c.name.clone());
            }
        }
    }
    out
}

/// The model's value in `column` on the night of `point` (`None`: missing that night).
fn cell_value(h: &BoardHistory, model: &str, point: &Point, column: &str) -> Option<f64> {
    let n = h.nights.iter().find(|n| n.night == point.night)?;
    let i = n.board.columns.iter().position(|c| c.name == column)?;
    let row = n.board.rows.iter().find(|r| r.model == model)?;
    row.cells[i].as_ref().map(|c| c.value)
}

fn signed(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:+.4}"))
}

/// The tables: each model's first and last night and its trend, then per model its nights
/// (average, change, the preset's and the board file's totals when asked, each headline
/// column).
pub fn tables(h: &BoardHistory) -> Vec<Table> {
    let preset = h.nights.iter().find_map(|n| n.board.preset.as_ref());
    let own = h.nights.iter().any(|n| n.board.own.is_some());
    let summary = h
        .models
        .iter()
        .map(|s| {
            let first = s.points.first();
            let last = s.points.last();
            let averages: Vec<Option<f64>> = s.points.iter().map(|p| p.average).collect();
            let comparable = s.points.iter().skip(1).all(|p| !p.columns_changed);
            let change = match (first.and_then(|p| p.average), last.and_then(|p| p.average)) {
                (Some(a), Some(b)) if comparable && s.points.len() > 1 => signed(Some(b - a)),
                _ if !comparable => "columns changed".to_string(),
                _ => String::new(),
            };
            vec![
                s.model.clone(),
                s.points.len().to_string(),
                first.map(|p| p.night.clone()).unwrap_or_default(),
                last.map(|p| p.night.clone()).unwrap_or_default(),
                num(last.and_then(|p| p.average), 4),
                change,
                crate::report::history::sparkline(&averages),
            ]
        })
        .collect();
    let mut out = vec![table(
        "board over the nights".into(),
        vec![
            "model",
            "nights",
            "first",
            "last",
            "average (last)",
            "change",
            "trend",
        ],
        summary,
        "Each night's runs on one board; a model's average is the mean of its headline columns that night. The change (first to last night) is given only when every night's average covers the same columns; a benchmark's new version is a new column, never averaged with the old.",
    )];
    let columns = headline_columns(h);
    for s in &h.models {
        let mut headers = vec!["night".to_string(), "average".into(), "change".into()];
        if let Some(p) = preset {
            headers.push(format!("{} (headline)", p.name));
        }
        if own {
            headers.push("total (board file)".into());
        }
        headers.extend(columns.iter().cloned());
        let rows = s
            .points
            .iter()
            .map(|p| {
                let mut r = vec![
                    p.night.clone(),
                    num(p.average, 4),
                    if p.columns_changed {
                        "≠ columns".to_string()
                    } else {
                        signed(p.change)
                    },
                ];
                if preset.is_some() {
                    r.push(num(p.preset, 4));
                }
                if own {
                    r.push(num(p.own_total, 4));
                }
                for c in &columns {
                    r.push(cell(cell_value(h, &s.model, p, c)));
                }
                r
            })
            .collect();
        let hs: Vec<&str> = headers.iter().map(String::as_str).collect();
        let mut note = "— is missing that night; ≠ columns: the average covers other columns than the night before, so no change is given.".to_string();
        if let Some(p) = preset {
            note.push_str(&format!(
                " {} (headline): its TOTAL, else TOTAL (filled), else GLP, else GLP (filled), as the preset's table names them.",
                p.name
            ));
        }
        out.push(table(
            format!("board over the nights: {}", s.model),
            hs,
            rows,
            &note,
        ));
    }
    out
}

/// CSV: one row per model and night — its average, change, preset and board-file totals,
/// each headline column.
pub fn csv(h: &BoardHistory) -> Result<String, csv::Error> {
    let columns = headline_columns(h);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "model".to_string(),
        "night".into(),
        "average".into(),
        "change".into(),
        "columns_changed".into(),
        "preset".into(),
        "own_total".into(),
    ];
    header.extend(columns.iter().cloned());
    w.write_record(&header)?;
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for s in &h.models {
        for p in &s.points {
            let mut rec = vec![
                s.model.clone(),
                p.night.clone(),
                opt(p.average),
                opt(p.change),
                p.columns_changed.to_string(),
                opt(p.preset),
                opt(p.own_total),
            ];
            for c in &columns {
                rec.push(opt(cell_value(h, &s.model, p, c)));
            }
            w.write_record(&rec)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("UTF-8 in, UTF-8 out"))
}

/// The page: per model a line of its average over the nights, then the tables.
pub fn html(h: &BoardHistory) -> String {
    use crate::report::html::charts::line;
    let mut body = String::from(
        r#"<section id="board-history"><h3>Each model</h3><div class="lines" style="display:flex;flex-wrap:wrap;gap:12px">"#,
    );
    for (i, s) in h.models.iter().enumerate() {
        let points: Vec<(String, Option<f64>)> = s
            .points
            .iter()
            .map(|p| (p.night.clone(), p.average))
            .collect();
        body.push_str(&line(&format!("average: {}", s.model), &points, i));
    }
    body.push_str("</div>");
    for t in tables(h) {
        crate::report::html::table_html(&t, &mut body);
    }
    body.push_str("</section>");
    let header = format!(
        "<p class=\"muted\">{} night(s), {} model(s)</p>",
        h.nights.len(),
        h.models.len()
    );
    crate::report::html::document("shinpan board history", &header, &body)
}
