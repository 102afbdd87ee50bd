//! Text from the dump made safe to print. Class, field and thread names are whatever the
//! process put there: an `ESC ] 0 ; ... BEL` in a class name would retitle the reader's
//! terminal, an `ESC [ 31 m` recolour it, a right-to-left override reorder what follows. Every
//! output (tables, Markdown, HTML, JSON, to stdout or to `-o`) goes through [`Escaped`], so no
//! such character leaves dumpscan raw; renderers that lay text out in columns call
//! [`printable`] first, so that the escape is counted in the column's width.
//!
//! A character is shown as `\u001b`: readable in a terminal, and inside a JSON string the
//! same escape JSON itself uses, so a JSON reader still gets the name as the dump had it.

use std::borrow::Cow;
use std::io::{self, Write};

/// Whether `c` must not reach a terminal raw: C0 controls (but the newline and the tab our
/// own output uses), DEL, C1 controls, and the bidirectional embeddings, overrides and
/// isolates, which reorder the text around them.
pub fn is_unsafe(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// `text` with every unsafe character (and any newline or tab, which would break a table's
/// row) written as `\u001b`.
pub fn printable(text: &str) -> Cow<'_, str> {
    let escape = |c: char| is_unsafe(c) || c == '\n' || c == '\t';
    if !text.chars().any(escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A writer that escapes unsafe characters on their way to `inner`. It works on UTF-8 bytes:
/// a character split between two writes is held back until its end arrives; bytes that are
/// no UTF-8 pass unchanged (no renderer writes any).
pub struct Escaped<W: Write> {
    inner: W,
    /// The start of a multi-byte character that could be unsafe, waiting for its end.
    held: Vec<u8>,
}

impl<W: Write> Escaped<W> {
    pub fn new(inner: W) -> Escaped<W> {
        Escaped { inner, held: Vec::new() }
    }

    /// The unsafe character that `bytes` starts with, and its length; `Err(())` when `bytes`
    /// may be the start of one but ends too early to tell.
    fn unsafe_at(bytes: &[u8]) -> Result<Option<(char, usize)>, ()> {
        match *bytes {
            [b, ..] if b < 0x20 && b != b'\n' && b != b'\t' || b == 0x7f => Ok(Some((char::from(b), 1))),
            [0xc2] | [0xe2] | [0xe2, 0x80 | 0x81] => Err(()),
            [0xc2, b, ..] if (0x80..=0x9f).contains(&b) => Ok(Some((char::from(b), 2))),
            [0xe2, m, l, ..] => {
                let c = char::from_u32(0x2000 | (u32::from(m & 0x3f) << 6) | u32::from(l & 0x3f));
                Ok(c.filter(|&c| is_unsafe(c)).map(|c| (c, 3)))
            }
            _ => Ok(None),
        }
    }

    /// Writes `bytes`, escaped, and holds back an unfinished character at their end.
    fn pass(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut clean = 0;
        let mut at = 0;
        while at < bytes.len() {
            match Self::unsafe_at(&bytes[at..]) {
                Ok(None) => at += 1,
                Ok(Some((c, len))) => {
                    self.inner.write_all(&bytes[clean..at])?;
                    write!(self.inner, "\\u{:04x}", u32::from(c))?;
                    at += len;
                    clean = at;
                }
                Err(()) => {
                    self.inner.write_all(&bytes[clean..at])?;
                    self.held.extend_from_slice(&bytes[at..]);
                    return Ok(());
                }
            }
        }
        self.inner.write_all(&bytes[clean..])
    }
}

impl<W: Write> Write for Escaped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.held.is_empty() {
            self.pass(buf)?;
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(buf);
            self.pass(&joined)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            self.inner.write_all(&held)?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(pieces: &[&[u8]]) -> String {
        let mut out = Escaped::new(Vec::new());
        for piece in pieces {
            out.write_all(piece).unwrap();
        }
        out.flush().unwrap();
        String::from_utf8(out.inner).unwrap()
    }

    #[test]
    fn names_are_escaped_in_one_form() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{1b}]0;title\u{7}b"), "a\\u001b]0;title\\u0007b");
        assert_eq!(printable("x\u{202e}y\u{85}z\nw"), "x\\u202ey\\u0085z\\u000aw");
    }

    #[test]
    fn the_writer_lets_nothing_unsafe_through_even_split() {
        let text = "a\u{1b}[31mb\u{9b}c\u{202e}d\u{2066}é€\n";
        let whole = through(&[text.as_bytes()]);
        assert_eq!(whole, "a\\u001b[31mb\\u009bc\\u202ed\\u2066é€\n");
        for cut in 0..text.len() {
            let (a, b) = text.as_bytes().split_at(cut);
            assert_eq!(through(&[a, b]), whole, "cut at {cut}");
        }
    }
}
