//! One board across benchmarks: a model's figures from many runs in one table. Each judged
//! benchmark is one column, normalised to 0-1 by the scale its scorer states (a 1-10 mean
//! / 10, as Nejumi divides Japanese MT-bench's; a 1-5 mean / 5, ELYZA's), a pairwise run's
//! adjusted win rate as it is; a task run gives every `TASK_METRIC` score and llm-jp-eval's
//! AVG. Columns are keyed by the benchmark and its version and the scorer, so two versions
//! of a set are two columns, never averaged together. A model's average is the mean of the
//! headline columns it has (each judged or pairwise benchmark, and the tasks' AVG — not the
//! task scores, which AVG already holds); a missing cell is marked, never counted as zero.

pub mod file;
pub mod history;
pub mod nejumi;

use serde::Serialize;

use crate::aggregate::{ModelSummary, Report};
use crate::error::UsageError;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnKind {
    /// A judged benchmark's mean grade over its scale's top.
    Graded,
    /// A pairwise run's adjusted win rate.
    Pairwise,
    /// One llm-jp-eval task score (in AVG, not in the board's average).
    Task,
    /// llm-jp-eval's AVG over its categories.
    TaskAverage,
}

impl ColumnKind {
    /// Whether the board's average counts it.
    pub fn headline(self) -> bool {
        !matches!(self, ColumnKind::Task)
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Its heading: the benchmark (with version) and scorer.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// How its figures were made 0-1 (`mean / 10`).
    pub normalised: String,
    /// The runs it comes from.
    pub sources: Vec<String>,
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// The figure, 0-1.
    pub value: f64,
    /// Its interval, on the same scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
    /// The run it comes from.
    pub source: String,
}

/// One model's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The model.
    pub model: String,
    /// One per column; `null` where the model has no figure (missing, not zero).
    pub cells: Vec<Option<Cell>>,
    /// The mean of its headline cells.
    pub average: Option<f64>,
    /// Headline columns it is missing.
    pub missing: usize,
}

/// The board.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Board {
    /// Its columns, in the order of the runs given.
    pub columns: Vec<Column>,
    /// Its rows, best average first.
    pub rows: Vec<Row>,
    /// A preset's aggregation of the same runs (`--preset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// A board file's own categories and total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own: Option<file::Own>,
}

/// A known board's aggregation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preset {
    /// Its name (`nejumi3`).
    pub name: String,
    /// Each model's figures, best TOTAL (else GLP so far) first.
    pub rows: Vec<nejumi::PresetRow>,
}

/// The presets `--preset` knows.
pub const PRESETS: &[&str] = &["nejumi3", "nejumi4"];

/// The `name` preset over the runs.
pub fn preset(name: &str, runs: &[(String, Vec<Report>)]) -> Result<Preset, UsageError> {
    let compute: fn(&str, &nejumi::Inputs) -> nejumi::PresetRow = match name {
        "nejumi3" => nejumi::nejumi3,
        "nejumi4" => nejumi::nejumi4,
        _ => {
            return Err(UsageError(format!(
                "--preset {name:?}: known presets: {}",
                PRESETS.join(", ")
            )));
        }
    };
    let inputs = nejumi::inputs(runs);
    if inputs.is_empty() {
        return Err(UsageError(format!(
            "--preset {name}: none of the runs has jaster task scores or MT-bench categories to fill it"
        )));
    }
    let mut rows: Vec<nejumi::PresetRow> = inputs.iter().map(|(m, i)| compute(m, i)).collect();
    let key = |r: &nejumi::PresetRow| {
        r.total
            .or(r.total_partial)
            .or(r.glp)
            .or(r.glp_partial)
            .unwrap_or(f64::MIN)
    };
    rows.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.model.cmp(&b.model))
    });
    Ok(Preset {
        name: name.to_string(),
        rows,
    })
}

/// The preset as a table: model, TOTAL, GLP, ALT, what is filled so far, then every
/// category (nejumi4: level-3 names indented under their parents'; a value over some of
/// its inputs marked `*`).
pub fn preset_table(p: &Preset) -> crate::report::markup::Table {
    use crate::report::markup::num;
    let four = p.name == "nejumi4";
    let names: Vec<String> = p
        .rows
        .first()
        .map(|r| {
            r.categories
                .iter()
                .map(|c| match c.level {
                    Some(3) => format!("· {}", c.name.trim_start_matches("GLP_")),
                    _ => c.name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut headers: Vec<String> = ["model", "TOTAL", "GLP", "ALT", "GLP (filled)"]
        .map(String::from)
        .to_vec();
    if four {
        headers.push("TOTAL (filled)".to_string());
    }
    headers.extend(names.iter().cloned());
    let rows = p
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.model.clone(),
                num(r.total, 4),
                num(r.glp, 4),
                num(r.alt, 4),
                format!("{} ({}/{})", num(r.glp_partial, 4), r.glp_filled, r.glp_of),
            ];
            if four {
                row.push(num(r.total_partial, 4));
            }
            row.extend(r.categories.iter().map(|c| {
                let partial = four && c.value.is_some() && !c.missing.is_empty();
                format!("{}{}", cell(c.value), if partial { "*" } else { "" })
            }));
            row
        })
        .collect();
    let hs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let note = if four {
        "Nejumi Leaderboard 4's aggregation (wandb/llm-leaderboard main aggregate.py): each jaster task the mean of its 0- and 2-shot scores, each MT-bench category / 10; each category the mean of the values under it that exist, as Nejumi 4 skips a missing one (* marks a value over some of its inputs; JSON lists the missing). GLP only with both MT-bench and jaster runs. ALT and TOTAL need JBBQ, toxicity and JTruthfulQA, which shinpan does not run; TOTAL (filled) is Nejumi 4's weighting over the filled categories, not its TOTAL."
    } else {
        "Nejumi Leaderboard 3's aggregation (wandb/llm-leaderboard v3-maint aggregate.py): each jaster task the mean of its 0- and 2-shot scores, each MT-bench category / 10; a category is — when an input is missing (JSON lists which); GLP, ALT and TOTAL only when every category under them is filled. ALT needs LCTG, toxicity, JBBQ, JMMLU robustness and JTruthfulQA, which shinpan does not run."
    };
    crate::report::markup::table(format!("board: {}", p.name), hs, rows, note)
}

/// One figure found in a run: (column, kind, normalisation, model, value, interval).
struct Found {
    column: String,
    kind: ColumnKind,
    normalised: String,
    model: String,
    value: f64,
    ci: Option<[f64; 2]>,
}

/// The figures of one run's reports (a panel's pooled report stands for its judges').
fn figures(reports: &[Report]) -> Vec<Found> {
    let pooled = reports.iter().any(|r| r.panel.is_some());
    let mut out = Vec::new();
    for r in reports.iter().filter(|r| !pooled || r.panel.is_some()) {
        // The official set and version, else the question file and its digest: two versions
        // are two columns.
        let set = r
            .bench
            .clone()
            .or_else(|| r.question_set.clone())
            .unwrap_or_else(|| "questions".into());
        if let Some(tasks) = &r.tasks {
            for m in tasks {
                for s in &m.scores {
                    if let Some(v) = s.value {
                        out.push(Found {
                            column: format!("{} ({}-shot)", s.name, s.few_shots),
                            kind: ColumnKind::Task,
                            normalised: "as llm-jp-eval scores it".into(),
                            model: m.model.clone(),
                            value: v,
                            ci: s.ci,
                        });
                    }
                }
                if let Some(v) = m.avg {
                    out.push(Found {
                        column: match m.few_shots {
                            Some(n) => format!("llm-jp-eval AVG ({n}-shot)"),
                            None => "llm-jp-eval AVG (mixed shots)".into(),
                        },
                        kind: ColumnKind::TaskAverage,
                        normalised: "mean of llm-jp-eval's categories".into(),
                        model: m.model.clone(),
                        value: v,
                        ci: m.avg_ci,
                    });
                }
            }
            continue;
        }
        for m in &r.models {
            match m {
                ModelSummary::Single(s) => {
                    let (Some(v), top) = (s.score, f64::from(s.scale.max)) else {
                        continue;
                    };
                    out.push(Found {
                        column: format!("{set} · {} ({})", r.judge, r.mode.as_str()),
                        kind: ColumnKind::Graded,
                        normalised: format!("mean / {top} (scale {})", s.scale),
                        model: s.model.clone(),
                        value: v / top,
                        ci: s.score_ci.map(|[lo, hi]| [lo / top, hi / top]),
                    });
                }
                ModelSummary::Pair(p) => {
                    let Some(v) = p.adjusted_win_rate else {
                        continue;
                    };
                    let against = r
                        .baseline
                        .as_deref()
                        .map_or("all".to_string(), |b| format!("vs {b}"));
                    out.push(Found {
                        column: format!("{set} · {} ({against})", r.judge),
                        kind: ColumnKind::Pairwise,
                        normalised: "adjusted win rate, as it is".into(),
                        model: p.model.clone(),
                        value: v,
                        ci: p.adjusted_win_rate_ci,
                    });
                }
            }
        }
    }
    out
}

/// Builds the board from each run's reports (named by their source). A model with two
/// figures in one column (the same benchmark, version and scorer in two runs) is refused,
/// naming both runs.
pub fn build(runs: &[(String, Vec<Report>)]) -> Result<Board, UsageError> {
    let mut columns: Vec<Column> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    for (source, reports) in runs {
        for f in figures(reports) {
            let c = match columns.iter().position(|c| c.name == f.column) {
                Some(c) => c,
                None => {
                    columns.push(Column {
                        name: f.column.clone(),
                        kind: f.kind,
                        normalised: f.normalised.clone(),
                        sources: Vec::new(),
                    });
                    for r in &mut rows {
                        r.cells.push(None);
                    }
                    columns.len() - 1
                }
            };
            if !columns[c].sources.contains(source) {
                columns[c].sources.push(source.clone());
            }
            let r = match rows.iter().position(|r| r.model == f.model) {
                Some(r) => r,
                None => {
                    rows.push(Row {
                        model: f.model.clone(),
                        cells: vec![None; columns.len()],
                        average: None,
                        missing: 0,
                    });
                    rows.len() - 1
                }
            };
            if let Some(old) = &rows[r].cells[c] {
                return Err(UsageError(format!(
                    "board: {} has two figures for {} ({} and {}): give one run of each benchmark per model",
                    f.model, f.column, old.source, source
                )));
            }
            rows[r].cells[c] = Some(Cell {
                value: f.value,
                ci: f.ci,
                source: source.clone(),
            });
        }
    }
    if columns.is_empty() {
        return Err(UsageError(
            "board: no figures in the runs given (run directories with reports' judgments)".into(),
        ));
    }
    for r in &mut rows {
        let headline: Vec<Option<f64>> = columns
            .iter()
            .zip(&r.cells)
            .filter(|(c, _)| c.kind.headline())
            .map(|(_, cell)| cell.as_ref().map(|x| x.value))
            .collect();
        let present: Vec<f64> = headline.iter().flatten().copied().collect();
        r.missing = headline.len() - present.len();
        r.average =
            (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64);
    }
    rows.sort_by(|a, b| {
        b.average
            .unwrap_or(f64::MIN)
            .total_cmp(&a.average.unwrap_or(f64::MIN))
            .then_with(|| a.model.cmp(&b.model))
    });
    Ok(Board {
        columns,
        rows,
        preset: None,
        own: None,
    })
}

/// A board cell as the tables print it: the figure, or `—` when missing (not zero).
pub(crate) fn cell(v: Option<f64>) -> String {
    match v {
        Some(v) => crate::report::markup::num(Some(v), 4),
        None => "—".into(),
    }
}

/// The board as a table: model, average, missing, then every column's figure.
pub fn table(b: &Board) -> crate::report::markup::Table {
    use crate::report::markup::num;
    let mut headers = vec!["model".to_string(), "average".into(), "missing".into()];
    headers.extend(b.columns.iter().map(|c| c.name.clone()));
    let rows = b
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![r.model.clone(), num(r.average, 4), r.missing.to_string()];
            row.extend(r.cells.iter().map(|c| cell(c.as_ref().map(|c| c.value))));
            row
        })
        .collect();
    let hs: Vec<&str> = headers.iter().map(String::as_str).collect();
    crate::report::markup::table(
        "board".into(),
        hs,
        rows,
        "Every figure 0-1: a judged benchmark's mean over its scale's top, a pairwise run's \
         adjusted win rate, llm-jp-eval's scores as it computes them. The average is the mean \
         of a model's headline columns (benchmarks and llm-jp-eval's AVG; not the task scores \
         AVG holds); — is missing, not counted; `missing` counts them.",
    )
}

/// The board as CSV: one row per model, each column's value and interval.
pub fn csv(b: &Board) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["model".to_string(), "average".into(), "missing".into()];
    for c in &b.columns {
        header.push(c.name.clone());
        header.push(format!("{} ci_low", c.name));
        header.push(format!("{} ci_high", c.name));
    }
    w.write_record(&header)?;
    for r in &b.rows {
        let mut rec = vec![
            r.model.clone(),
            r.average.map(|v| v.to_string()).unwrap_or_default(),
            r.missing.to_string(),
        ];
        for c in &r.cells {
            let (v, lo, hi) = match c {
                Some(c) => (
                    c.value.to_string(),
                    c.ci.map(|x| x[0].to_string()).unwrap_or_default(),
                    c.ci.map(|x| x[1].to_string()).unwrap_or_default(),
                ),
                None => Default::default(),
            };
            rec.extend([v, lo, hi]);
        }
        w.write_record(&rec)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("UTF-8 in, UTF-8 out"))
}

/// The board as one self-contained page (the HTML report's frame and policy): the board's
/// table, `more` (the preset's, a board file's), and per model a radar of its headline figures (and of the preset's
/// GLP categories, with a preset).
pub fn html(b: &Board, more: &[crate::report::markup::Table]) -> String {
    use crate::report::html::charts::radar;
    let mut body = String::new();
    body.push_str(r#"<section id="board">"#);
    crate::report::html::table_html(&table(b), &mut body);
    for t in more {
        crate::report::html::table_html(t, &mut body);
    }
    body.push_str(
        "<h3>Each model</h3><div class=\"radars\" style=\"display:flex;flex-wrap:wrap;gap:12px\">",
    );
    for (i, r) in b.rows.iter().enumerate() {
        let axes: Vec<(String, Option<f64>)> = b
            .columns
            .iter()
            .zip(&r.cells)
            .filter(|(c, _)| c.kind.headline())
            .map(|(c, cell)| (c.name.clone(), cell.as_ref().map(|x| x.value)))
            .collect();
        if axes.len() >= 3 {
            body.push_str(&radar(&format!("radar: {}", r.model), &axes, i));
        }
        if let Some(row) = b
            .preset
            .as_ref()
            .and_then(|p| p.rows.iter().find(|x| x.model == r.model))
        {
            // Nejumi 4 draws its five level-2 categories; Nejumi 3 its ten.
            let axes: Vec<(String, Option<f64>)> = row
                .categories
                .iter()
                .filter(|c| c.name.starts_with("GLP_") && c.level.is_none_or(|l| l == 2))
                .map(|c| (c.name.trim_start_matches("GLP_").to_string(), c.value))
                .collect();
            body.push_str(&radar(&format!("GLP: {}", r.model), &axes, i));
        }
    }
    body.push_str("</div></section>");
    let sources: Vec<String> = b
        .columns
        .iter()
        .flat_map(|c| c.sources.iter().cloned())
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        });
    let header = format!(
        "<p class=\"muted\">{} model(s), {} column(s), from {}</p>",
        b.rows.len(),
        b.columns.len(),
        crate::report::html::esc(&sources.join(", "))
    );
    crate::report::html::document("shinpan board", &header, &body)
}
