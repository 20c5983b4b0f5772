//! Markdown tables, one section per report.

use super::Exporter;
use super::markup::{Align, Table, tables};
use crate::aggregate::Report;

/// GitHub-flavoured Markdown.
pub struct MarkdownExporter;

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
}

fn render(t: &Table, out: &mut String) {
    out.push_str(&format!("## {}\n\n", escape(&t.title)));
    if let Some(a) = &t.alert {
        out.push_str(&format!("**{}**\n\n", escape(a)));
    }
    out.push_str(&format!(
        "| {} |\n",
        t.headers
            .iter()
            .map(|h| escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    out.push_str(&format!(
        "|{}|\n",
        t.align
            .iter()
            .map(|a| match a {
                Align::Left => " --- ",
                Align::Right => " ---: ",
            })
            .collect::<Vec<_>>()
            .join("|")
    ));
    for row in &t.rows {
        out.push_str(&format!(
            "| {} |\n",
            row.iter()
                .map(|c| escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    out.push('\n');
    if !t.note.is_empty() {
        out.push_str(&t.note);
        out.push_str("\n\n");
    }
}

impl Exporter for MarkdownExporter {
    fn serialize(&self, reports: &[Report]) -> anyhow::Result<Vec<u8>> {
        let all: Vec<Table> = reports.iter().flat_map(tables).collect();
        Ok(document("shinpan report", &all).into_bytes())
    }
}

/// A Markdown document: a heading, then each table with its explanation.
pub fn document(heading: &str, tables: &[Table]) -> String {
    let mut out = format!("# {heading}\n\n");
    for t in tables {
        render(t, &mut out);
    }
    out
}
