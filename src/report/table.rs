//! Terminal tables, aligned by display width so Japanese model and category names line up.

use super::Exporter;
use super::markup::{Table, column_widths, pad, tables};
use crate::aggregate::Report;

/// Plain-text tables for a terminal.
pub struct TableExporter;

impl Exporter for TableExporter {
    fn serialize(&self, reports: &[Report]) -> anyhow::Result<Vec<u8>> {
        let all: Vec<Table> = reports.iter().flat_map(tables).collect();
        Ok(render(&all).into_bytes())
    }
}

/// Renders tables as aligned plain text, a blank line between them.
pub fn render(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        if !out.is_empty() {
            out.push('\n');
        }
        let w = column_widths(t);
        out.push_str(&t.title);
        out.push('\n');
        if let Some(a) = &t.alert {
            out.push_str(a);
            out.push('\n');
        }
        let line = |cells: &[String]| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| pad(c, w[i], t.align[i]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        out.push_str(&line(&t.headers));
        out.push('\n');
        out.push_str(
            &w.iter()
                .map(|n| "─".repeat(*n))
                .collect::<Vec<_>>()
                .join("  "),
        );
        out.push('\n');
        for row in &t.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
    }
    out
}
