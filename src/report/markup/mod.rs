//! The table model shared by the terminal and Markdown exporters, and the cells they format.
//! Each table carries a one-line plain explanation of its figures, which Markdown prints.

mod pair;
mod panel;
mod single;
mod tasks;

use unicode_width::UnicodeWidthStr;

use crate::aggregate::samples::Sampling;
use crate::aggregate::{LengthBias, Mode, ModelSummary, PairSummary, Report, SingleSummary};

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
    /// A line every format prints under the title (the terminal too, which leaves notes
    /// out): what a reader must not miss.
    pub alert: Option<String>,
    /// What the figures mean, in one or two plain sentences.
    pub note: String,
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

/// A figure with `digits` decimals, or `-`.
pub fn num(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

pub(crate) fn ci(v: Option<[f64; 2]>, digits: usize) -> String {
    v.map(|[lo, hi]| format!("[{lo:.digits$}, {hi:.digits$}]"))
        .unwrap_or_else(|| "-".into())
}

/// How many inconsistent games the tables list (JSON lists them all).
const LISTED: usize = 20;

/// The tables that present one report.
pub fn tables(r: &Report) -> Vec<Table> {
    let title = match (&r.mode, &r.baseline, r.scale) {
        (Mode::PairwiseBaseline, Some(b), _) => {
            format!("{} (judge: {}, baseline: {b})", r.mode.as_str(), r.judge)
        }
        (_, _, Some(scale)) => {
            format!("{} (judge: {}, scale {scale})", r.mode.as_str(), r.judge)
        }
        _ => format!("{} (judge: {})", r.mode.as_str(), r.judge),
    };
    let title = match &r.tasks {
        Some(_) => "llm-jp-eval tasks (scored by rule)".to_string(),
        None => title,
    };
    let title = match &r.panel {
        Some(p) => format!("{title}, pooled by {}", p.pool),
        None => title,
    };
    let title = match &r.bench {
        Some(b) => format!("{b}: {title}"),
        None => title,
    };
    let title = match &r.run {
        Some(run) => format!("{run} · {title}"),
        None => title,
    };
    let title = if r.partial {
        format!("{title} — PARTIAL")
    } else {
        title
    };
    let singles: Vec<&SingleSummary> = r
        .models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Single(s) => Some(s),
            _ => None,
        })
        .collect();
    let pairs: Vec<&PairSummary> = r
        .models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Pair(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    if r.partial {
        out.push(coverage_table(&title, r));
    }
    if let Some(t) = &r.tasks {
        // Scored by rule: llm-jp-eval's figures are the report.
        tasks::task_tables(&title, t, &mut out);
    } else if !singles.is_empty() {
        single::single_tables(&title, &singles, &r.aspects, &mut out);
    }
    if !pairs.is_empty() {
        out.extend(pair::pair_tables(&title, r, &pairs));
    }
    if let Some(p) = &r.panel {
        panel::panel_tables(&title, p, &mut out);
    }
    if !r.same_family_as_judge.is_empty() {
        out.push(self_preference_table(&title, r));
    }
    if let Some(p) = &r.position_bias {
        pair::position_tables(&title, p, &mut out);
    }
    if let Some(s) = &r.sampling {
        sampling_tables(&title, r, s, &mut out);
    }
    // A task's reply is scored against its gold, not judged: no length bias to show.
    if let (Some(l), None) = (&r.length_bias, &r.tasks) {
        out.push(length_table(&title, r, l));
    }
    if !r.spend.is_empty() {
        out.push(spend_table(&title, r));
    }
    out
}

/// A cost as tables show it (`-`: no price).
pub fn money(c: Option<f64>) -> String {
    c.map_or_else(|| "-".to_string(), |c| format!("{c:.4}"))
}

fn spend_table(title: &str, r: &Report) -> Table {
    // `≈`: some of the replies said nothing of their tokens, which are then estimated.
    let about = |s: &crate::records::spend::Spend, text: String| {
        if s.usage_estimated > 0 {
            format!("≈{text}")
        } else {
            text
        }
    };
    let mut rows: Vec<Vec<String>> = r
        .spend
        .iter()
        .map(|s| {
            vec![
                s.model.clone(),
                s.stage.as_str().to_string(),
                s.spend.requests.to_string(),
                s.spend.cache_hits.to_string(),
                about(&s.spend, s.spend.prompt_tokens.to_string()),
                about(&s.spend, s.spend.completion_tokens.to_string()),
                about(&s.spend, money(s.cost)),
            ]
        })
        .collect();
    let mut total = crate::records::spend::Spend::default();
    r.spend.iter().for_each(|s| total.merge(&s.spend));
    rows.push(vec![
        "total".into(),
        String::new(),
        total.requests.to_string(),
        total.cache_hits.to_string(),
        about(&total, total.prompt_tokens.to_string()),
        about(&total, total.completion_tokens.to_string()),
        about(&total, money(crate::records::spend::total_cost(&r.spend))),
    ]);
    table(
        format!("{title}: spend"),
        vec![
            "model",
            "stage",
            "requests",
            "cache hits",
            "prompt tokens",
            "completion tokens",
            "cost",
        ],
        rows,
        "What the run paid for, over every invocation: requests answered by the API and the \
         tokens billed; cache hits were served free. Cost is at the prices of the config's \
         [model.NAME] price tables (- where a model has none). ≈: some replies said nothing \
         of the tokens they used, which are then estimated from their text.",
    )
}

fn self_preference_table(title: &str, r: &Report) -> Table {
    table(
        format!("{title}: self-preference risk"),
        vec!["model", "family"],
        r.same_family_as_judge
            .iter()
            .map(|m| {
                let f = crate::aggregate::family::family(m).unwrap_or("-");
                let f = if *m == r.judge {
                    format!("{f} (the judge itself: self-judging)")
                } else {
                    f.to_string()
                };
                vec![m.clone(), f]
            })
            .collect(),
        "These models share the judge's model family, or are the judge itself; judges tend to \
         favour their own family and their own answers, so compare their figures with another \
         judge's before trusting them.",
    )
}

fn sampling_tables(title: &str, r: &Report, s: &Sampling, out: &mut Vec<Table>) {
    let spread = if r.mode.is_graded() {
        "mean range of an item's grades (max − min)"
    } else {
        "mean share of an item's judgments that differ from the majority"
    };
    out.push(table(
        format!("{title}: repeated judging"),
        vec!["measure", "value"],
        vec![
            vec!["judgments per item (most)".into(), s.samples.to_string()],
            vec!["items judged repeatedly".into(), s.items.to_string()],
            vec!["unstable items".into(), s.unstable_items.to_string()],
            vec![spread.into(), num(Some(s.mean_spread), 3)],
        ],
        "Every item was judged several times (--judge-samples); the figures above use the \
         median grade (single) or each order's majority verdict (pairwise). Unstable items \
         got different verdicts from the same judge on the same answers: run-to-run drift.",
    ));
    if s.unstable.is_empty() {
        return;
    }
    let rows = s
        .unstable
        .iter()
        .take(LISTED)
        .map(|u| {
            let values: Vec<String> = u.values.iter().map(|v| format!("{v}")).collect();
            vec![
                u.question_id.clone(),
                u.turn.to_string(),
                u.model.clone(),
                values.join(" / "),
                num(Some(u.spread), 2),
            ]
        })
        .collect();
    out.push(table(
        format!("{title}: least stable items"),
        vec!["question", "turn", "model", "verdicts", "spread"],
        rows,
        "Items whose repeated judgments disagreed most (pairwise verdicts as 1 = model_1 \
         won, 0.5 = tie, 0 = model_2 won); the JSON report lists up to --max-listed.",
    ));
}

fn length_table(title: &str, r: &Report, l: &LengthBias) -> Table {
    let what = if r.mode.is_graded() {
        "Correlation of each grade with its answer's length (characters)"
    } else {
        "Correlation of each game's outcome for model_1 (win 1, tie ½, loss 0) with model_1's \
         answer length minus model_2's"
    };
    table(
        format!("{title}: length bias"),
        vec!["measure", "value"],
        vec![
            vec!["rows with known lengths".into(), l.n.to_string()],
            vec!["length correlation".into(), num(l.correlation, 3)],
        ],
        &format!(
            "{what}; near 0 means the judge is not swayed by length, towards 1 that longer answers win."
        ),
    )
}

/// What a partial report lacks, per model, first, so nobody reads its figures as complete.
fn coverage_table(title: &str, r: &Report) -> Table {
    let rows = r
        .coverage
        .iter()
        .map(|c| {
            vec![
                c.model.clone(),
                c.expected.to_string(),
                c.judged.to_string(),
                c.failed.to_string(),
                c.missing.to_string(),
            ]
        })
        .collect();
    let mut t = table(
        format!("{title}: coverage"),
        vec!["model", "expected", "judged", "failed", "missing"],
        rows,
        "The figures of this report describe only what was judged; failed = judged without a \
         readable verdict, missing = never judged (an answer failed, or the run stopped). \
         Re-run the same command to retry only those.",
    );
    t.alert = Some(format!("PARTIAL: {}", r.partial_reasons.join("; ")));
    t
}

/// Figures are right-aligned; names and words are left-aligned.
fn is_figure(cell: &str) -> bool {
    cell.is_empty()
        || cell
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '[')
}

/// Builds a table, right-aligning columns of figures.
pub fn table(title: String, headers: Vec<&str>, rows: Vec<Vec<String>>, note: &str) -> Table {
    let align = (0..headers.len())
        .map(|i| {
            let figures = rows.iter().all(|r| r.get(i).is_none_or(|c| is_figure(c)));
            if i > 0 && figures {
                Align::Right
            } else {
                Align::Left
            }
        })
        .collect();
    Table {
        title,
        headers: headers.into_iter().map(str::to_string).collect(),
        align,
        rows,
        alert: None,
        note: note.to_string(),
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
