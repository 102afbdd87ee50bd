//! The report as Markdown for an incident ticket: CommonMark with GitHub's tables, a blank
//! line around every block so no renderer runs prose into a table, names from the dump in code
//! spans, other text escaped, and paths shortened so that cells stay short.

use std::io::{self, Write};

use super::document::{Block, Cell, Table};
use super::paths::{collapse, elide, printable, simple_names};

/// Steps a path keeps in a table cell, at most, after collapsing repeats.
const PATH_STEPS: usize = 6;

pub fn print(out: &mut dyn Write, doc: &[Block]) -> io::Result<()> {
    for block in doc {
        match block {
            Block::Title(lines) => {
                let (first, rest) = lines.split_first().map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
                writeln!(out, "# {}\n", escape(first.trim_start_matches("dumpscan: ")))?;
                for line in rest {
                    writeln!(out, "{}\n", escape(line))?;
                }
            }
            Block::Heading(heading) => writeln!(out, "## {heading}\n")?,
            Block::Paragraph(text) => writeln!(out, "{}\n", escape(text))?,
            Block::Findings(findings) => {
                for (i, f) in findings.iter().enumerate() {
                    let number = format!("{}. ", i + 1);
                    // Four spaces at least: CommonMark takes the item's own width, but older
                    // renderers (Python-Markdown) end the item unless its paragraphs are indented
                    // by four.
                    let indent = " ".repeat(number.len().max(4));
                    writeln!(out, "{number}**{}**\n", escape(&f.title))?;
                    writeln!(out, "{indent}{}\n", escape(&f.detail))?;
                    for line in &f.evidence {
                        writeln!(out, "{indent}- {}", escape(line))?;
                    }
                    for command in &f.commands {
                        writeln!(out, "{indent}- {}", code(command))?;
                    }
                    if !f.evidence.is_empty() || !f.commands.is_empty() {
                        writeln!(out)?;
                    }
                }
            }
            Block::Table(table) => print_table(out, table)?,
        }
    }
    Ok(())
}

fn print_table(out: &mut dyn Write, table: &Table) -> io::Result<()> {
    writeln!(out, "| {} |", table.header.join(" | "))?;
    let rule: Vec<&str> =
        (0..table.header.len()).map(|i| if table.numeric.contains(&i) { "---:" } else { "---" }).collect();
    writeln!(out, "|{}|", rule.join("|"))?;
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(cell).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    writeln!(out)
}

fn cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => escape(text),
        Cell::Code(text) => code(text),
        Cell::Path(steps) => {
            code(&elide(collapse(steps), PATH_STEPS).iter().map(|s| simple_names(s)).collect::<Vec<_>>().join(" -> "))
        }
    }
}

/// A code span that holds any text: fenced with one backtick more than the longest run
/// inside, pipes escaped (GitHub's tables split cells on them even in code).
fn code(text: &str) -> String {
    let text = printable(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Prose with Markdown's active characters escaped, so class names like `Foo[*]` or
/// `lambda$main$2` print as written.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in printable(text).chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '|' | '#' | '~' | '&') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_hold_backticks_and_pipes() {
        assert_eq!(code("a.b"), "`a.b`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("a|b"), "`a\\|b`");
    }

    #[test]
    fn prose_escapes_markup() {
        assert_eq!(escape("Foo[*] -> *x_y*"), "Foo\\[\\*\\] -> \\*x\\_y\\*");
    }
}
