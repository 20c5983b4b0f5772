//! The HTML report: one self-contained page (inline CSS, SVG and one small script; nothing
//! fetched, so it opens offline and as a CI artifact) with, per report, the leaderboard and
//! its intervals, a per-category chart, the score distribution, the bias figures, every table
//! the Markdown report has, and the judged items to browse.
//!
//! Model and judge text is untrusted: it is escaped, or rendered from Markdown with raw HTML
//! kept as text ([`text`]). A Content-Security-Policy that allows only the page's own script
//! (by its hash) backs that up: even a slip in escaping could not run an answer's script or
//! load anything.

pub mod charts;
mod figures;
mod items;
mod text;

use std::fmt::Write;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::Exporter;
use super::markup::{Align, Table, tables};
use crate::aggregate::{Mode, Report};
use crate::review::ReviewRecord;
use figures::{cards, categories, figure, leaderboard, singles};
pub use text::{esc, markdown};

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// One self-contained HTML page; `items` (from [`crate::review::collect`]) fill the browsable
/// lists, and the charts that need single grades or games.
#[derive(Default)]
pub struct HtmlExporter {
    /// The judged items of the reports' runs; empty when the reports came from bare judgment
    /// files.
    pub items: Vec<ReviewRecord>,
    /// The page heading.
    pub title: Option<String>,
}

impl Exporter for HtmlExporter {
    fn serialize(&self, reports: &[Report]) -> anyhow::Result<Vec<u8>> {
        let title = self.title.as_deref().unwrap_or("shinpan report");
        let nav: String = reports
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    r##"<li><a href="#r{}">{}</a></li>"##,
                    i + 1,
                    esc(&heading(r))
                )
            })
            .collect();
        // One buffer for the whole page: a page of thousands of items is megabytes, and
        // building sections apart and then pasting them into the page held it twice more.
        let (open, close) = frame(title, &format!("<nav><ul>{nav}</ul></nav>"));
        let mut page = open;
        for (i, r) in reports.iter().enumerate() {
            let items: Vec<&ReviewRecord> = self.items.iter().filter(|it| belongs(it, r)).collect();
            report_section(&format!("r{}", i + 1), r, &items, &mut page);
        }
        page.push_str(&close);
        Ok(page.into_bytes())
    }
}

/// A whole page around `body`.
pub fn document(title: &str, header: &str, body: &str) -> String {
    let (mut page, close) = frame(title, header);
    page.push_str(body);
    page.push_str(&close);
    page
}

/// The page before the body and after it.
fn frame(title: &str, header: &str) -> (String, String) {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    let open = format!(
        r#"<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'">
<meta name="generator" content="shinpan {version}">
<title>{t}</title>
<style>
{CSS}</style>
</head>
<body>
<header><h1>{t}</h1>{header}</header>
<main>
"#,
        t = esc(title),
        version = env!("CARGO_PKG_VERSION"),
    );
    let close = format!(
        r#"
</main>
<script>{SCRIPT}</script>
</body>
</html>
"#
    );
    (open, close)
}

fn belongs(it: &ReviewRecord, r: &Report) -> bool {
    let mode = match r.mode {
        Mode::Single => "single",
        Mode::Rubric => "rubric",
        Mode::PairwiseBaseline | Mode::PairwiseAll => "pairwise",
    };
    let judged = match &r.panel {
        Some(p) => p.judges.contains(&it.judge),
        None => it.judge == r.judge,
    };
    it.mode == mode && judged && it.run == r.run && it.scale == r.scale
}

fn heading(r: &Report) -> String {
    let h = match &r.baseline {
        Some(b) => format!("{} (judge: {}, baseline: {b})", r.mode.as_str(), r.judge),
        None => format!("{} (judge: {})", r.mode.as_str(), r.judge),
    };
    let h = match &r.panel {
        Some(p) => format!("{h}, pooled by {}", p.pool),
        None => h,
    };
    let h = match &r.bench {
        Some(b) => format!("{b}: {h}"),
        None => h,
    };
    match &r.run {
        Some(run) => format!("{run} · {h}"),
        None => h,
    }
}

/// One report's section, appended to `out`.
fn report_section(id: &str, r: &Report, items: &[&ReviewRecord], out: &mut String) {
    let _ = write!(out, r#"<section id="{id}"><h2>{}</h2>"#, esc(&heading(r)));
    if r.partial {
        let _ = write!(
            out,
            r#"<p class="alert"><b>Partial:</b> the figures describe only what was judged ({}).</p>"#,
            esc(&r.partial_reasons.join("; "))
        );
    }
    out.push_str(&cards(r));
    out.push_str(&leaderboard(r));
    // A panel's items are its judges' own verdicts: its figures come from the pooled ones.
    let own: &[&ReviewRecord] = if r.panel.is_some() { &[] } else { items };
    out.push_str(&categories(r, own));
    let scale = r.scale.unwrap_or_default();
    let hist = items::score_histograms(own, scale);
    if !hist.is_empty() {
        let order: Vec<(String, Vec<usize>)> = singles(r)
            .iter()
            .filter_map(|s| hist.get(&s.model).map(|h| (s.model.clone(), h.clone())))
            .collect();
        figure(
            "Score distribution",
            &format!(
                "How many grades (every turn counts once) fell on each point of the {scale} scale."
            ),
            &charts::histograms("Score distribution", scale, &order),
            out,
        );
    }
    out.push_str(r#"<details class="tables" open><summary><b>Tables</b></summary>"#);
    for t in tables(r) {
        table_html(&t, out);
    }
    out.push_str("</details>");
    if !items.is_empty() {
        items::section(id, items, out);
    } else {
        out.push_str(
            r#"<p class="muted">No items to browse: the report was made from judgment files, not a run directory.</p>"#,
        );
    }
    out.push_str("</section>");
}

/// A table of the shared table model as HTML, with its title and explanation.
pub fn table_html(t: &Table, out: &mut String) {
    let _ = write!(out, "<h3>{}</h3>", esc(&t.title));
    if let Some(a) = &t.alert {
        let _ = write!(out, r#"<p class="alert">{}</p>"#, esc(a));
    }
    out.push_str(r#"<div class="table-wrap"><table><thead><tr>"#);
    let class = |a: &Align| match a {
        Align::Right => r#" class="r""#,
        Align::Left => "",
    };
    for (h, a) in t.headers.iter().zip(&t.align) {
        let _ = write!(out, "<th{}>{}</th>", class(a), esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for (c, a) in row.iter().zip(&t.align) {
            let _ = write!(out, "<td{}>{}</td>", class(a), esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    if !t.note.is_empty() {
        let _ = write!(out, r#"<p class="muted">{}</p>"#, esc(&t.note));
    }
}
