//! Terminal tables of the smaller commands, written a row at a time. (The report's tables,
//! which fit the terminal's width and wrap their cells, are the report's own grid.)

use std::borrow::Cow;
use std::io::{self, Write};

use crate::escape::printable;

/// Numbers are spelled out in one place for every output: the off-heap crate's units.
pub use dumpscan_offheap::units::{human_bytes, thousands};

/// Characters a cell of a streamed table holds at most: a name from the dump may be 64 KiB
/// long, and a row is never wider than the screenfuls it is worth.
pub const CELL_CHARS: usize = 200;

/// A table written a row at a time, for tables of any length (`--top 0`): memory does not
/// grow with the rows, and no row is padded to the widest of the others' last cell. Columns
/// are as wide as the caller measured them (capped at [`CELL_CHARS`]); the last one is not
/// padded. Cells are made printable and cut to [`CELL_CHARS`].
pub struct Streamed {
    widths: Vec<usize>,
    numeric: Vec<bool>,
}

impl Streamed {
    /// A table of `header`'s columns, `widths` the widest cell of each (the last is not
    /// used), `numeric` the right-aligned ones; writes the header.
    pub fn start(out: &mut dyn Write, header: &[&str], widths: &[usize], numeric: &[usize]) -> io::Result<Streamed> {
        let widths: Vec<usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| widths.get(i).copied().unwrap_or(0).min(CELL_CHARS).max(h.chars().count()))
            .collect();
        let numeric = (0..header.len()).map(|i| numeric.contains(&i)).collect();
        let table = Streamed { widths, numeric };
        let cells: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        table.row(out, &cells)?;
        let rules: Vec<String> = table.widths.iter().map(|&w| "─".repeat(w)).collect();
        table.row(out, &rules)?;
        Ok(table)
    }

    /// A whole table at once, each column as wide as its widest cell: for short tables whose
    /// rows are all at hand.
    pub fn write_all(out: &mut dyn Write, header: &[&str], numeric: &[usize], rows: &[Vec<String>]) -> io::Result<()> {
        let widths: Vec<usize> = (0..header.len())
            .map(|i| rows.iter().filter_map(|row| row.get(i)).map(|cell| cell_width(cell)).max().unwrap_or(0))
            .collect();
        let table = Streamed::start(out, header, &widths, numeric)?;
        rows.iter().try_for_each(|row| table.row(out, row))
    }

    /// Writes one row.
    pub fn row(&self, out: &mut dyn Write, cells: &[String]) -> io::Result<()> {
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let printed = printable(cell);
            let cell = cut(&printed, CELL_CHARS);
            let width = self.widths.get(i).copied().unwrap_or(0);
            let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
            if i > 0 {
                line.push_str("  ");
            }
            match (self.numeric.get(i) == Some(&true), i == last) {
                (true, _) => line.push_str(&format!("{pad}{cell}")),
                (false, true) => line.push_str(&cell),
                (false, false) => line.push_str(&format!("{cell}{pad}")),
            }
        }
        writeln!(out, "{}", line.trim_end())
    }
}

/// `text` cut to `max` characters, the cut marked with `…`.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let keep = text.char_indices().nth(max.saturating_sub(1)).map_or(text.len(), |(at, _)| at);
            Cow::Owned(format!("{}…", &text[..keep]))
        }
    }
}

/// The width of `text` in a streamed table's cell.
pub fn cell_width(text: &str) -> usize {
    printable(text).chars().count().min(CELL_CHARS)
}
