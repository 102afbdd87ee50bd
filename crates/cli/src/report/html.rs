//! The report as one self-contained HTML page for an incident ticket: inline CSS, inline SVG
//! bars, no script and nothing fetched from anywhere, readable on a laptop and printable.
//! Everything taken from the dump is escaped, so a class or thread named `<script>` shows as
//! text. The page adds what a page does better to the document every format prints: the
//! counters against their limits as gauges, retainers as bars, Netty arenas as used/free bars,
//! full paths folded under their short form, and anchors to link a finding from a ticket.

use std::io::{self, Write};

use dumpscan_offheap::units::{human_bytes, percent};
use dumpscan_offheap::{ArenaKind, Report, RetainerKind};
use html_escape::{encode_double_quoted_attribute as attribute, encode_text as text};

use super::document::{Block, Cell, Table};
use super::paths::{collapse, elide, printable, simple_names};

/// Steps a path keeps in its short form, and at most in its full form: a page stays small
/// whatever the dump (a path along a list of a million nodes is cut).
const SHORT_STEPS: usize = 8;
const FULL_STEPS: usize = 400;
/// Bars drawn for the largest retainers.
const BARS: usize = 12;

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 1.5em;color:#1b1b1b}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.8em}
p.meta{color:#555;margin:.1em 0}code,td.code{font-family:ui-monospace,monospace;font-size:.92em}
table{border-collapse:collapse;margin:.6em 0;width:100%}th,td{border-bottom:1px solid #e2e2e2;padding:.25em .5em;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f4f4f4;white-space:nowrap}td.num,th.num{text-align:right;white-space:nowrap}
ol.findings>li{margin:.8em 0}ol.findings .title{font-weight:600}ol.findings ul{color:#444;margin:.3em 0}
a.anchor{color:#999;text-decoration:none;margin-left:.3em}details summary{cursor:pointer}
.bar{display:flex;align-items:center;gap:.6em;margin:.2em 0}.bar .label{flex:0 0 44%;overflow-wrap:anywhere}
.bar svg{flex:1}.gauge .label{flex-basis:30%}
@media print{body{max-width:none}details{display:block}a.anchor{display:none}}
";

/// The page of a document; `report` gives the overview's gauges and bars (a diff has none).
pub(crate) fn print(out: &mut dyn Write, doc: &[Block], report: Option<&Report>) -> io::Result<()> {
    let title = match doc.first() {
        Some(Block::Title(lines)) => lines.first().cloned().unwrap_or_default(),
        _ => "dumpscan report".into(),
    };
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
    writeln!(out, "<title>{}</title><style>{STYLE}</style></head><body>", text(&printable(&title)))?;
    let mut finding_count = 0;
    for block in doc {
        match block {
            Block::Title(lines) => {
                let (first, rest) = lines.split_first().map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
                writeln!(out, "<h1>{}</h1>", text(&printable(first)))?;
                for line in rest {
                    writeln!(out, "<p class=\"meta\">{}</p>", text(&printable(line)))?;
                }
                if let Some(report) = report {
                    overview(out, report)?;
                }
            }
            Block::Heading(heading) => {
                let id = heading.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-");
                writeln!(out, "<h2 id=\"{id}\">{heading}</h2>")?;
            }
            Block::Paragraph(paragraph) => writeln!(out, "<p>{}</p>", text(&printable(paragraph)))?,
            Block::Findings(findings) => {
                writeln!(out, "<ol class=\"findings\">")?;
                for f in findings {
                    finding_count += 1;
                    let id = format!("finding-{finding_count}");
                    writeln!(
                        out,
                        "<li id=\"{id}\"><span class=\"title\">{}</span><a class=\"anchor\" href=\"#{id}\" \
                         title=\"link to this finding\">#</a><p>{}</p>",
                        text(&printable(&f.title)),
                        text(&printable(&f.detail))
                    )?;
                    if !f.evidence.is_empty() || !f.commands.is_empty() {
                        writeln!(out, "<ul>")?;
                        for e in &f.evidence {
                            writeln!(out, "<li>{}</li>", text(&printable(e)))?;
                        }
                        for c in &f.commands {
                            writeln!(out, "<li><code>{}</code></li>", text(&printable(c)))?;
                        }
                        writeln!(out, "</ul>")?;
                    }
                    writeln!(out, "</li>")?;
                }
                writeln!(out, "</ol>")?;
            }
            Block::Table(table) => print_table(out, table)?,
        }
    }
    writeln!(out, "</body></html>")
}

/// Gauges for the counters against their limits, bars for the largest retainers and for each
/// direct arena's used and free bytes.
fn overview(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    writeln!(out, "<h2 id=\"overview\">Overview</h2>")?;
    let c = &report.counters;
    let gauges = [
        ("JDK direct memory (java.nio.Bits)", c.jdk.as_ref().and_then(|j| Some((j.reserved?, j.max?)))),
        ("Netty direct memory (PlatformDependent)", c.netty.as_ref().and_then(|n| Some((n.used?, n.max?)))),
    ];
    for (name, value) in gauges {
        let Some((used, max)) = value.and_then(|(u, m)| Some((u64::try_from(u).ok()?, u64::try_from(m).ok()?))) else {
            continue;
        };
        let label = format!("{name}: {} of {} ({})", human_bytes(used), human_bytes(max), percent(used, max));
        bar(out, "bar gauge", &label, &[(used, "#c0392b")], max)?;
    }
    let largest = report.retainers.first().map_or(0, |r| r.bytes);
    for r in report.retainers.iter().take(BARS) {
        // An allocator's or the GC's bytes are named by what they are (the path's last step).
        let what = match (r.kind, r.path.last()) {
            (RetainerKind::Buffers, _) | (_, None) => {
                r.owner.clone().or_else(|| r.holder.as_ref().map(|h| h.class.clone())).unwrap_or(r.root.clone())
            }
            (_, Some(what)) => what.clone(),
        };
        let label =
            format!("{} ({}): {}", human_bytes(r.bytes), percent(r.bytes, report.native_bytes), simple_names(&what));
        bar(out, "bar", &label, &[(r.bytes, "#2c7fb8")], largest)?;
    }
    for a in &report.netty {
        for arena in a.arenas.iter().filter(|x| x.kind == ArenaKind::Direct && x.chunk_bytes > 0) {
            let label = format!(
                "arena {}: {} used, {} free of {}",
                arena.id,
                human_bytes(arena.used_bytes),
                human_bytes(arena.free_bytes),
                human_bytes(arena.chunk_bytes)
            );
            bar(
                out,
                "bar",
                &label,
                &[(arena.used_bytes, "#e67e22"), (arena.free_bytes, "#bdc3c7")],
                arena.chunk_bytes,
            )?;
        }
    }
    Ok(())
}

/// One labelled bar of stacked parts, scaled to `whole`.
fn bar(out: &mut dyn Write, class: &str, label: &str, parts: &[(u64, &str)], whole: u64) -> io::Result<()> {
    let mut svg = String::new();
    let mut x = 0.0;
    for &(value, colour) in parts {
        let width = if whole == 0 { 0.0 } else { value as f64 * 100.0 / whole as f64 };
        let width = width.clamp(0.0, 100.0 - x);
        svg.push_str(&format!("<rect x=\"{x:.2}\" y=\"0\" width=\"{width:.2}\" height=\"10\" fill=\"{colour}\"/>"));
        x += width;
    }
    writeln!(
        out,
        "<div class=\"{class}\"><span class=\"label\">{}</span><svg viewBox=\"0 0 100 10\" \
         preserveAspectRatio=\"none\" height=\"14\" role=\"img\" aria-label=\"{}\">\
         <rect width=\"100\" height=\"10\" fill=\"#f0f0f0\"/>{svg}</svg></div>",
        text(&printable(label)),
        attribute(&printable(label))
    )
}

fn print_table(out: &mut dyn Write, table: &Table) -> io::Result<()> {
    write!(out, "<table><thead><tr>")?;
    for (i, h) in table.header.iter().enumerate() {
        let class = if table.numeric.contains(&i) { " class=\"num\"" } else { "" };
        write!(out, "<th{class}>{}</th>", text(h))?;
    }
    writeln!(out, "</tr></thead><tbody>")?;
    for row in &table.rows {
        write!(out, "<tr>")?;
        for (i, cell) in row.iter().enumerate() {
            let numeric = table.numeric.contains(&i);
            match cell {
                Cell::Text(t) => {
                    write!(out, "<td{}>{}</td>", if numeric { " class=\"num\"" } else { "" }, text(&printable(t)))?
                }
                Cell::Code(t) => write!(out, "<td class=\"code\">{}</td>", text(&printable(t)))?,
                Cell::Path(steps) => {
                    let short: Vec<String> =
                        elide(collapse(steps), SHORT_STEPS).iter().map(|s| simple_names(s)).collect();
                    let full = elide(steps.clone(), FULL_STEPS);
                    write!(
                        out,
                        "<td class=\"code\"><details><summary>{}</summary>{}</details></td>",
                        text(&printable(&short.join(" → "))),
                        text(&printable(&full.join(" → ")))
                    )?;
                }
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stay_within_their_box() {
        let mut out = Vec::new();
        bar(&mut out, "bar", "<x>", &[(150, "#000"), (50, "#fff")], 100).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("width=\"100.00\" height=\"10\" fill=\"#000\""), "{html}");
        assert!(html.contains("width=\"0.00\" height=\"10\" fill=\"#fff\""), "{html}");
        assert!(html.contains("&lt;x&gt;") && !html.contains("<x>"), "{html}");
    }
}
