//! `dumpscan DUMP` / `dumpscan report DUMP`: the off-heap report as terminal tables, Markdown
//! for an incident ticket, or JSON (`dumpscan.report.v1`, docs/REPORT-SCHEMA.md). The text
//! formats print one document built from the typed report; each format is its own module.

pub(crate) mod document;
pub(crate) mod html;
pub(crate) mod markdown;
pub(crate) mod paths;
pub(crate) mod terminal;

use std::io::{self, Write};

use dumpscan_offheap::Report;

use crate::ReportFormat;

/// How much of the report to print, and how wide.
pub struct Layout {
    /// Rows a table at most; 0 prints all.
    pub top: usize,
    /// Columns to fit in; `None` when nothing says (output to a file or a pipe).
    pub width: Option<usize>,
    /// Full paths and no width limit.
    pub wide: bool,
}

pub fn render(out: &mut dyn Write, report: &Report, format: ReportFormat, layout: &Layout) -> io::Result<()> {
    match format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        ReportFormat::Table => terminal::print(out, &document::build(report, layout.top), layout),
        ReportFormat::Markdown => markdown::print(out, &document::build(report, layout.top)),
        ReportFormat::Html => html::print(out, &document::build(report, layout.top), Some(report)),
    }
}
