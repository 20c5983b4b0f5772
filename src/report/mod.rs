//! Reports: one exporter per output format behind one trait. The terminal table, the
//! Markdown and the HTML page share a table model ([`markup::Table`]); JSON is the serialised
//! [`Report`].

pub mod headtohead;
pub mod history;
pub mod html;
mod json;
pub mod markdown;
pub mod markup;
pub mod table;

pub use html::HtmlExporter;
pub use json::JsonExporter;
pub use markdown::MarkdownExporter;
pub use table::TableExporter;

use crate::aggregate::Report;

/// Turns reports into the bytes of one output format.
pub trait Exporter {
    /// Renders all reports (one per mode and judge) into one document.
    fn serialize(&self, reports: &[Report]) -> anyhow::Result<Vec<u8>>;
}

/// Output formats on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned terminal table (wide characters counted as two columns).
    #[default]
    Table,
    /// GitHub-flavoured Markdown.
    Md,
    /// JSON: one report object, or an array when there are several.
    Json,
}

impl Format {
    /// The exporter for this format.
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Table => Box::new(TableExporter),
            Format::Md => Box::new(MarkdownExporter),
            Format::Json => Box::new(JsonExporter),
        }
    }
}

/// Output formats of `shinpan report`: those of [`Format`], and a self-contained HTML page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned terminal table (wide characters counted as two columns).
    #[default]
    Table,
    /// GitHub-flavoured Markdown.
    Md,
    /// JSON: one report object, or an array when there are several.
    Json,
    /// One self-contained HTML page (charts, tables and, for run directories, the judged
    /// items to browse).
    Html,
}
