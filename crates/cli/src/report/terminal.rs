//! The report for a terminal: plain text and box-drawn tables that fit the width given, paths
//! shortened in tables unless `--wide`.

use std::io::{self, Write};

use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table as Grid};

use super::document::{Block, Cell, Table};
use super::paths::{collapse, elide, printable, simple_names};
use super::Layout;
use dumpscan_offheap::units::capitalized;

/// Steps a path keeps in a table cell, at most, after collapsing repeats.
const PATH_STEPS: usize = 8;

pub fn print(out: &mut dyn Write, doc: &[Block], layout: &Layout) -> io::Result<()> {
    let width = if layout.wide { None } else { layout.width };
    for block in doc {
        match block {
            Block::Title(lines) => {
                for line in lines {
                    prose(out, line, "", width)?;
                }
            }
            Block::Heading(heading) => writeln!(out, "\n{}\n{}", heading.to_uppercase(), "=".repeat(heading.len()))?,
            Block::Paragraph(text) => prose(out, text, "", width)?,
            Block::Findings(findings) => {
                for (i, f) in findings.iter().enumerate() {
                    let number = format!("{}. ", i + 1);
                    let indent = " ".repeat(number.len());
                    prose_first(out, &f.title, &number, &indent, width)?;
                    prose(out, &f.detail, &indent, width)?;
                    for line in f.evidence.iter().chain(&f.commands) {
                        prose_first(out, line, &format!("{indent}- "), &format!("{indent}  "), width)?;
                    }
                }
            }
            Block::Table(table) => table_block(out, table, layout)?,
        }
    }
    Ok(())
}

/// Text wrapped to the width, each line indented.
fn prose(out: &mut dyn Write, text: &str, indent: &str, width: Option<usize>) -> io::Result<()> {
    prose_first(out, text, indent, indent, width)
}

fn prose_first(out: &mut dyn Write, text: &str, first: &str, rest: &str, width: Option<usize>) -> io::Result<()> {
    let text = printable(text);
    match width {
        None => writeln!(out, "{first}{text}"),
        Some(width) => {
            let options = textwrap::Options::new(width.max(20))
                .initial_indent(first)
                .subsequent_indent(rest)
                .word_splitter(textwrap::WordSplitter::NoHyphenation)
                .break_words(true)
                .wrap_algorithm(textwrap::WrapAlgorithm::FirstFit);
            writeln!(out, "{}", textwrap::fill(&text, options))
        }
    }
}

/// A table; when the width is limited, a path column leaves the table and each row's path is
/// printed below it, numbered like the rows, where it has the whole width to wrap in.
fn table_block(out: &mut dyn Write, table: &Table, layout: &Layout) -> io::Result<()> {
    let width = layout.width.filter(|_| !layout.wide);
    let path_column = table.rows.first().and_then(|row| row.iter().position(|c| matches!(c, Cell::Path(_))));
    let (Some(width), Some(column)) = (width, path_column) else {
        return writeln!(out, "{}", grid(table, layout));
    };
    let numbered = table.header.first() == Some(&"#");
    let mut header = table.header.clone();
    let path_heading = header.remove(column);
    if !numbered {
        header.insert(0, "#");
    }
    let shift = |i: usize| if i > column { i - 1 } else { i } + usize::from(!numbered);
    let mut numeric: Vec<usize> = table.numeric.iter().filter(|&&i| i != column).map(|&i| shift(i)).collect();
    if !numbered {
        numeric.push(0);
    }
    let mut paths = Vec::new();
    let rows = table
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row: Vec<Cell> = row.iter().map(Cell::clone).collect();
            paths.push(cell_text(&row.remove(column), layout));
            if !numbered {
                row.insert(0, Cell::Text((i + 1).to_string()));
            }
            row
        })
        .collect();
    writeln!(out, "{}", grid(&Table { header, numeric, rows }, layout))?;
    writeln!(out, "{}:", capitalized(path_heading))?;
    for (i, path) in paths.iter().enumerate() {
        let number = format!("{:>3}. ", i + 1);
        prose_first(out, path, &number, &" ".repeat(number.len()), Some(width))?;
    }
    Ok(())
}

fn grid(table: &Table, layout: &Layout) -> Grid {
    let mut grid = Grid::new();
    grid.load_preset(presets::UTF8_BORDERS_ONLY).set_header(table.header.clone());
    match layout.width.filter(|_| !layout.wide) {
        Some(width) => {
            grid.set_content_arrangement(ContentArrangement::Dynamic);
            grid.set_width(u16::try_from(width).unwrap_or(u16::MAX));
        }
        None => {
            grid.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    let rows: Vec<Vec<String>> =
        table.rows.iter().map(|row| row.iter().map(|cell| cell_text(cell, layout)).collect()).collect();
    for row in &rows {
        grid.add_row(row.clone());
    }
    for &i in &table.numeric {
        if let Some(column) = grid.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    // No header word is broken, and the short words of cells (ids, addresses, session ids) are
    // kept whole where the width allows: broken, they cannot be read or pasted. Narrowest
    // column first.
    if let Some(width) = layout.width.filter(|_| !layout.wide) {
        let word = |text: &str| text.split(' ').map(|w| w.chars().count()).max().unwrap_or(0);
        let mut bounds: Vec<usize> = table.header.iter().map(|h| word(h)).collect();
        let mut room = width.saturating_sub(bounds.iter().map(|b| b + 3).sum::<usize>() + 1);
        let mut whole: Vec<(usize, usize)> = (0..table.header.len())
            .filter_map(|i| {
                let longest = rows.iter().map(|row| row.get(i).map_or(0, |c| word(c))).max()?;
                (longest <= 40).then_some((longest, i))
            })
            .collect();
        whole.sort_unstable();
        for (w, i) in whole {
            let extra = w.saturating_sub(bounds[i]);
            let Some(left) = room.checked_sub(extra) else { break };
            room = left;
            bounds[i] = bounds[i].max(w);
        }
        for (i, bound) in bounds.into_iter().enumerate() {
            if let Some(column) = grid.column_mut(i) {
                // The boundary counts the cell's padding, one column each side.
                let bound = u16::try_from(bound + 2).unwrap_or(u16::MAX);
                column.set_constraint(ColumnConstraint::LowerBoundary(comfy_table::Width::Fixed(bound)));
            }
        }
    }
    grid
}

fn cell_text(cell: &Cell, layout: &Layout) -> String {
    match cell {
        Cell::Text(text) => printable(text).into_owned(),
        Cell::Code(text) if layout.wide => printable(text).into_owned(),
        Cell::Code(text) => printable(&simple_names(text)).into_owned(),
        Cell::Path(steps) if layout.wide => printable(&steps.join(" -> ")).into_owned(),
        Cell::Path(steps) => printable(
            &elide(collapse(steps), PATH_STEPS).iter().map(|s| simple_names(s)).collect::<Vec<_>>().join(" -> "),
        )
        .into_owned(),
    }
}
