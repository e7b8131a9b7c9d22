//! Plain-text tables for people: columns padded to their widest cell, two spaces apart,
//! the last column unpadded. Shared by `plan`, `report`, `teams` and `personas`.
//!
//! Widths count characters, and padding is written out by hand (not a format width),
//! so a cell of any length lays out without limit.

/// A table of `header` and `rows`, one line each, with a newline after every line.
pub fn text_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let start = out.len();
        for (i, (cell, w)) in cells.zip(widths).enumerate() {
            out.push_str(cell);
            if i + 1 < N {
                let pad = w - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let end = out[start..].trim_end().len() + start;
        out.truncate(end);
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_pad_to_the_widest_cell_and_the_last_is_not_padded() {
        let rows = [
            ["a".to_string(), "é…".to_string(), "x".to_string()],
            ["long-key".to_string(), String::new(), String::new()],
        ];
        assert_eq!(
            super::text_table(["K", "V", "LAST"], &rows),
            "K         V   LAST\na         é…  x\nlong-key\n"
        );
    }
}
