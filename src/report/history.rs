//! A recurring run's figures over time: the changes against the previous comparable run
//! (printed after a nightly run), and the history of every series (`shinpan history`) as
//! tables, Markdown, JSON or an HTML page with a sparkline per series.

use std::fmt::Write;

use super::markup::{Table, ci, num, table};
use super::{Format, ReportFormat};
use crate::nightly::{Change, Series, Status};

fn status(s: Status) -> &'static str {
    match s {
        Status::Regressed => "REGRESSED",
        Status::Fell => "fell",
        Status::WithinNoise => "within noise",
        Status::Improved => "improved",
        Status::NoInterval => "no interval",
    }
}

fn signed(v: f64) -> String {
    format!("{v:+.3}")
}

fn signed_ci(v: Option<[f64; 2]>) -> String {
    v.map(|[lo, hi]| format!("[{lo:+.3}, {hi:+.3}]"))
        .unwrap_or_else(|| "-".into())
}

const CHANGE_NOTE: &str = "Change = this run − the previous comparable run (same questions, judge, mode and \
baseline; not partial), with its 95% interval from the two runs' intervals. REGRESSED: a watched \
model fell by more than the threshold and outside that interval's noise (exit 3 with \
--fail-on-regression); fell: a real drop within the threshold or on a model not watched; \
within noise: the interval includes no change.";

/// The change table printed after a nightly run (table or Markdown).
pub fn render_changes(found: &[Change], format: Format) -> anyhow::Result<Vec<u8>> {
    let t = if found.is_empty() {
        table(
            "Change since the previous comparable run".into(),
            vec!["note"],
            vec![vec!["no previous comparable run (same questions, judge, mode and baseline) in the history".into()]],
            "",
        )
    } else {
        table(
            "Change since the previous comparable run".into(),
            vec![
                "model", "mode", "metric", "previous", "run", "now", "95% CI", "change", "95% CI",
                "status",
            ],
            found
                .iter()
                .map(|c| {
                    vec![
                        c.key.model.clone(),
                        c.key.mode.clone(),
                        c.key.metric.clone(),
                        format!("{:.3}", c.previous),
                        c.previous_run.clone(),
                        format!("{:.3}", c.current),
                        ci(c.current_ci, 3),
                        signed(c.change),
                        signed_ci(c.change_ci),
                        status(c.status).into(),
                    ]
                })
                .collect(),
            CHANGE_NOTE,
        )
    };
    Ok(match format {
        Format::Md => super::markdown::document("shinpan nightly", &[t]).into_bytes(),
        _ => {
            let mut s = String::from("\n");
            s.push_str(&super::table::render(&[t]));
            s.into_bytes()
        }
    })
}

/// A text sparkline of the values (blank where a run has none).
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let vals: Vec<f64> = values.iter().flatten().copied().collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if hi - lo < 1e-12 => BARS[3],
            Some(x) => BARS[(((x - lo) / (hi - lo)) * 7.0).round() as usize],
        })
        .collect()
}

fn change_cell(c: &Option<Change>) -> String {
    c.as_ref()
        .map(|c| signed(c.change))
        .unwrap_or_else(|| "-".into())
}

fn status_cell(c: &Option<Change>) -> &'static str {
    c.as_ref().map(|c| status(c.status)).unwrap_or("-")
}

fn label(s: &Series) -> String {
    let k = &s.key;
    match &k.baseline {
        Some(b) => format!("{} (judge {}, vs {b})", k.mode, k.judge),
        None => format!("{} (judge {})", k.mode, k.judge),
    }
}

fn tables(series: &[Series], detailed: bool) -> Vec<Table> {
    let rows = series
        .iter()
        .map(|s| {
            let last = s.points.last().expect("a series has a point");
            let vals: Vec<Option<f64>> = s.points.iter().map(|p| p.value).collect();
            let flat: Vec<f64> = vals.iter().flatten().copied().collect();
            vec![
                s.key.model.clone(),
                label(s),
                s.key.metric.clone(),
                s.points.len().to_string(),
                last.run.clone(),
                num(last.value, 3),
                ci(last.ci, 3),
                change_cell(&last.change),
                status_cell(&last.change).into(),
                num(flat.iter().copied().reduce(f64::min), 3),
                num(flat.iter().copied().reduce(f64::max), 3),
                sparkline(&vals),
            ]
        })
        .collect();
    let mut out = vec![table(
        "History".into(),
        vec![
            "model",
            "evaluation",
            "metric",
            "runs",
            "latest",
            "value",
            "95% CI",
            "change",
            "status",
            "min",
            "max",
            "trend",
        ],
        rows,
        "Each model's watched figure (mean score, or adjusted win rate) in its latest run, its change against the previous comparable run, and its trend over every run (oldest first).",
    )];
    if detailed {
        out.extend(series.iter().map(detail_table));
    }
    out
}

/// Every run of one series.
fn detail_table(s: &Series) -> Table {
    let change = |p: &crate::nightly::Point, f: &dyn Fn(&Change) -> String| {
        p.change.as_ref().map(f).unwrap_or_else(|| "-".into())
    };
    table(
        format!("{}: {} {}", s.key.model, label(s), s.key.metric),
        vec![
            "run",
            "date",
            "value",
            "95% CI",
            "change",
            "95% CI",
            "status",
            "n",
            "errors",
            "tokens",
            "questions",
        ],
        s.points
            .iter()
            .map(|p| {
                vec![
                    p.run.clone(),
                    p.date.clone(),
                    format!(
                        "{}{}",
                        num(p.value, 3),
                        if p.partial { " (partial)" } else { "" }
                    ),
                    ci(p.ci, 3),
                    change(p, &|c| signed(c.change)),
                    change(p, &|c| signed_ci(c.change_ci)),
                    change(p, &|c| status(c.status).to_string()),
                    p.n.to_string(),
                    p.errors.to_string(),
                    p.tokens.to_string(),
                    p.questions_digest
                        .trim_start_matches("sha256:")
                        .chars()
                        .take(12)
                        .collect(),
                ]
            })
            .collect(),
        CHANGE_NOTE,
    )
}

/// The history in a format; `detailed` adds a table of every run per series.
pub fn render_history(
    series: &[Series],
    format: ReportFormat,
    detailed: bool,
) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        ReportFormat::Json => {
            (serde_json::to_string_pretty(&serde_json::json!({ "series": series }))? + "\n")
                .into_bytes()
        }
        ReportFormat::Md => {
            super::markdown::document("shinpan history", &tables(series, detailed)).into_bytes()
        }
        ReportFormat::Table => super::table::render(&tables(series, detailed)).into_bytes(),
        ReportFormat::Html => page(series).into_bytes(),
    })
}

/// The history page: per series a sparkline with its intervals, then every run.
fn page(series: &[Series]) -> String {
    use super::html::esc;
    let mut body = String::new();
    body.push_str(r#"<section><h2>Trends</h2><div class="table-wrap"><table><thead><tr><th>model</th><th>evaluation</th><th>metric</th><th class="r">runs</th><th>trend (95% intervals shaded)</th><th class="r">latest</th><th class="r">change</th><th>status</th></tr></thead><tbody>"#);
    for s in series {
        let last = s.points.last().expect("a series has a point");
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="r">{}</td><td>{}</td><td class="r">{} {}</td><td class="r">{}</td><td>{}</td></tr>"#,
            esc(&s.key.model),
            esc(&label(s)),
            esc(&s.key.metric),
            s.points.len(),
            spark_svg(s),
            num(last.value, 3),
            ci(last.ci, 3),
            change_cell(&last.change),
            status_cell(&last.change),
        );
    }
    body.push_str("</tbody></table></div></section>");
    for t in tables(series, true).iter().skip(1) {
        super::html::table_html(t, &mut body);
    }
    super::html::document("shinpan history", "", &body)
}

/// A small line chart of a series with its intervals as a band.
fn spark_svg(s: &Series) -> String {
    const W: f64 = 220.0;
    const H: f64 = 40.0;
    let pts: Vec<(usize, f64, Option<[f64; 2]>)> = s
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.value.map(|v| (i, v, p.ci)))
        .collect();
    if pts.is_empty() {
        return String::new();
    }
    let lo = pts
        .iter()
        .map(|p| p.2.map_or(p.1, |c| c[0]))
        .fold(f64::INFINITY, f64::min);
    let hi = pts
        .iter()
        .map(|p| p.2.map_or(p.1, |c| c[1]))
        .fold(f64::NEG_INFINITY, f64::max);
    let span = (hi - lo).max(1e-9);
    let n = s.points.len().max(2) - 1;
    let x = |i: usize| 4.0 + (W - 8.0) * i as f64 / n as f64;
    let y = |v: f64| H - 4.0 - (H - 8.0) * (v - lo) / span;
    let line: Vec<String> = pts
        .iter()
        .map(|(i, v, _)| format!("{:.1},{:.1}", x(*i), y(*v)))
        .collect();
    let upper: Vec<String> = pts
        .iter()
        .filter_map(|(i, _, c)| c.map(|c| format!("{:.1},{:.1}", x(*i), y(c[1]))))
        .collect();
    let lower: Vec<String> = pts
        .iter()
        .rev()
        .filter_map(|(i, _, c)| c.map(|c| format!("{:.1},{:.1}", x(*i), y(c[0]))))
        .collect();
    let band = if upper.len() == pts.len() && pts.len() > 1 {
        format!(
            r##"<polygon points="{} {}" fill="#4e79a7" fill-opacity="0.18"/>"##,
            upper.join(" "),
            lower.join(" ")
        )
    } else {
        String::new()
    };
    let dots: String = pts
        .iter()
        .map(|(i, v, _)| {
            let p = &s.points[*i];
            let bad = p.change.as_ref().is_some_and(|c| c.status == Status::Regressed || c.status == Status::Fell);
            format!(
                r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"><title>{}: {:.3}</title></circle>"##,
                x(*i),
                y(*v),
                if bad { "#e15759" } else { "#4e79a7" },
                super::html::esc(&p.run),
                v
            )
        })
        .collect();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="trend">{band}<polyline points="{}" fill="none" stroke="#4e79a7" stroke-width="1.5"/>{dots}</svg>"##,
        line.join(" ")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn sparklines_scale_between_the_extremes() {
        assert_eq!(
            super::sparkline(&[Some(1.0), None, Some(8.0), Some(4.5)]),
            "▁ █▅"
        );
        assert_eq!(super::sparkline(&[Some(3.0), Some(3.0)]), "▄▄");
    }
}
