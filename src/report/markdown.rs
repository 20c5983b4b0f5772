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
}

impl Exporter for MarkdownExporter {
    fn serialize(&self, reports: &[Report]) -> anyhow::Result<Vec<u8>> {
        let mut out = String::from("# shinpan report\n\n");
        for t in reports.iter().flat_map(tables) {
            render(&t, &mut out);
        }
        if reports
            .iter()
            .any(|r| r.mode != crate::aggregate::Mode::Single)
        {
            out.push_str(
                "Each pairwise game is judged twice with the answers swapped; a game is a tie \
                 when either order says tie or the two orders disagree. Adjusted win rate = \
                 (wins + ties/2) / games; consistency = share of games whose two orders agree; \
                 games with an error in either order are excluded from every rate.\n",
            );
        }
        Ok(out.into_bytes())
    }
}
