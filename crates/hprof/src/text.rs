//! Java text as a dump holds it: the modified UTF-8 of its names (classes, fields, methods,
//! source files), and the characters of `java.lang.String` objects. Every decoding of either
//! is here, so that a name or a string reads the same in every command.

use crate::BasicType;

/// Decodes the modified UTF-8 of HPROF strings (Java's CESU-8: `U+0000` as two bytes, a
/// character past `U+FFFF` as two encoded surrogates). Bytes that decode as neither it nor
/// plain UTF-8 are read as UTF-8 with what does not decode replaced by `U+FFFD`.
pub fn decode_utf8(bytes: &[u8]) -> String {
    match cesu8::from_java_cesu8(bytes) {
        Ok(text) => text.into_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// How the characters of a `java.lang.String` are laid out in the array that holds them
/// (`String.value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringCoding {
    /// A `byte[]` of Latin-1 characters: JDK 9 and later, `coder` 0.
    Latin1,
    /// A `byte[]` of UTF-16 units in the JVM's own (little-endian) byte order: JDK 9 and
    /// later, `coder` 1.
    Utf16,
    /// A `char[]`, whose UTF-16 units the dump writes big-endian: JDK 8 and earlier.
    Chars,
}

impl StringCoding {
    /// The coding of a `value` array whose elements are `element`, for a string whose `coder`
    /// field is `coder` (0 where the class has none).
    pub fn of(element: BasicType, coder: i64) -> StringCoding {
        match element {
            BasicType::Byte if coder == 0 => StringCoding::Latin1,
            BasicType::Byte => StringCoding::Utf16,
            _ => StringCoding::Chars,
        }
    }

    /// Bytes of one of the units that `String.offset` and `String.count` count.
    pub fn unit_bytes(self) -> usize {
        match self {
            StringCoding::Latin1 => 1,
            StringCoding::Utf16 | StringCoding::Chars => 2,
        }
    }

    /// The text of the array's bytes. A unit that does not decode (an unpaired surrogate)
    /// becomes `U+FFFD`; an odd last byte, half a unit, is left out.
    pub fn decode(self, data: &[u8]) -> String {
        let units = |unit: fn([u8; 2]) -> u16| {
            char::decode_utf16(data.chunks_exact(2).map(move |c| unit([c[0], c[1]])))
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        };
        match self {
            StringCoding::Latin1 => data.iter().map(|&b| char::from(b)).collect(),
            StringCoding::Utf16 => units(u16::from_le_bytes),
            StringCoding::Chars => units(u16::from_be_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf8_names() {
        assert_eq!(decode_utf8(b"java/lang/String"), "java/lang/String");
        assert_eq!(decode_utf8("caf\u{e9}".as_bytes()), "caf\u{e9}");
        // U+0000 in two bytes, U+1F600 as two encoded surrogates.
        assert_eq!(decode_utf8(&[b'a', 0xC0, 0x80, b'b']), "a\0b");
        assert_eq!(decode_utf8(&[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]), "\u{1F600}");
        // Plain UTF-8 of the same character, as some writers put it.
        assert_eq!(decode_utf8("\u{1F600}".as_bytes()), "\u{1F600}");
        // Neither: each byte that does not decode is replaced.
        assert_eq!(decode_utf8(&[b'a', 0xFF, b'b']), "a\u{FFFD}b");
        assert_eq!(decode_utf8(&[0xED, 0xA0, 0x80, b'x']), "\u{FFFD}\u{FFFD}\u{FFFD}x");
        assert_eq!(decode_utf8(&[0xC0]), "\u{FFFD}");
    }

    #[test]
    fn string_contents_in_each_coding() {
        let text = "h\u{e9}llo \u{1F600}";
        let units: Vec<u16> = text.encode_utf16().collect();
        let le: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(StringCoding::of(BasicType::Byte, 1).decode(&le), text);
        assert_eq!(StringCoding::of(BasicType::Char, 0).decode(&be), text);
        assert_eq!(StringCoding::of(BasicType::Byte, 0).decode(&[b'h', 0xE9, 0xFF]), "h\u{e9}\u{ff}");
        // An unpaired surrogate, and a half unit at the end.
        assert_eq!(StringCoding::Chars.decode(&[0xD8, 0x3D, 0x00, b'a', 0x00]), "\u{FFFD}a");
        assert_eq!(StringCoding::Latin1.unit_bytes(), 1);
        assert_eq!(StringCoding::Utf16.unit_bytes(), 2);
        assert_eq!(StringCoding::Chars.unit_bytes(), 2);
    }
}
