//! Terminal tables shared by the renderers of the smaller commands.

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};

/// Numbers are spelled out in one place for every output: the off-heap crate's units.
pub use dumpscan_offheap::units::{human_bytes, thousands};

/// A table with our house style; numeric columns (by index) are right-aligned.
pub fn new_table(header: &[&str], numeric: &[usize]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for &i in numeric {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}
