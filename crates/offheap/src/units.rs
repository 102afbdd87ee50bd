//! Numbers for people: the one place bytes, counts and shares are spelled out, so that a
//! finding and a table never round the same figure two ways. A size's own spelling,
//! [`human_bytes`], lives in the reader, whose log lines give sizes too; the rest build on it.

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `count(1, "direct buffer")` → `1 direct buffer`, `count(1024, "ByteBuf")` → `1,024 ByteBufs`:
/// every noun the report counts takes an `s` in the plural.
pub fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// A sentence's first letter in upper case: `the JDK` → `The JDK`.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

pub use dumpscan_hprof::human_bytes;

/// `67108864` → `64.0 MiB (67,108,864)`: the rounded size and the exact count, for tables
/// where both matter. Below a KiB, just the bytes.
pub fn exact_bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{} ({})", human_bytes(n), thousands(n))
    }
}

/// [`exact_bytes`] with a sign when negative, on both figures: `-64.0 MiB (-67,108,864)`, for
/// a figure derived as a difference.
pub fn signed_exact_bytes(n: i64) -> String {
    match n.unsigned_abs() {
        magnitude if n >= 0 => exact_bytes(magnitude),
        magnitude if magnitude < 1024 => format!("-{magnitude} B"),
        magnitude => format!("-{} (-{})", human_bytes(magnitude), thousands(magnitude)),
    }
}

/// A share as a percentage with one decimal, rounded to nearest, except that a part smaller
/// than the whole never reads `100.0%` and a non-zero part never reads `0.0%`: the text must
/// not claim "all" or "none" when it is not so. `-` when the whole is zero.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let tenths = (u128::from(part) * 1000 + u128::from(whole) / 2) / u128::from(whole);
    let tenths = match tenths {
        0 if part > 0 => return "<0.1%".into(),
        1000 if part < whole => 999,
        t => t,
    };
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// `new - old` as a signed count, saturating at `i64`'s bounds: a change between two dumps.
pub fn delta(old: u64, new: u64) -> i64 {
    let difference = i128::from(new) - i128::from(old);
    i64::try_from(difference).unwrap_or(if difference > 0 { i64::MAX } else { i64::MIN })
}

/// A change in bytes with its sign: `+1.5 KiB`, `-512 B`, `0 B`.
pub fn signed_bytes(change: i64) -> String {
    match change {
        0 => "0 B".into(),
        c if c > 0 => format!("+{}", human_bytes(c.unsigned_abs())),
        c => format!("-{}", human_bytes(c.unsigned_abs())),
    }
}

/// A change in a count with its sign: `+1,024`, `-3`, `0`.
pub fn signed(change: i64) -> String {
    match change {
        0 => "0".into(),
        c if c > 0 => format!("+{}", thousands(c.unsigned_abs())),
        c => format!("-{}", thousands(c.unsigned_abs())),
    }
}

/// How many times `old` fits in `new`, one decimal: `4.0x`. `None` when `old` is zero.
pub fn times(new: u64, old: u64) -> Option<String> {
    if old == 0 {
        return None;
    }
    let tenths = (u128::from(new) * 10 + u128::from(old) / 2) / u128::from(old);
    Some(format!("{}.{}x", tenths / 10, tenths % 10))
}

/// A span of time for a sentence, to the minute: `1h 5m`, `3m`; under a minute, `less than a
/// minute`.
pub fn duration(ms: u64) -> String {
    let minutes = ms / 60_000;
    if minutes == 0 {
        return "less than a minute".into();
    }
    humantime::format_duration(std::time::Duration::from_secs(minutes.saturating_mul(60))).to_string()
}

/// A dump's timestamp (milliseconds since 1970) as RFC 3339 (ISO 8601) in UTC with
/// milliseconds; `None` for a zero timestamp, which some writers leave.
pub fn timestamp(ms: u64) -> Option<String> {
    // RFC 3339 has four digits for the year: a later time (a header's bytes gone wrong) has
    // no spelling, and humantime's Display fails on it.
    const LAST: u64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    if ms == 0 || ms > LAST {
        return None;
    }
    let time = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(ms))?;
    Some(humantime::format_rfc3339_millis(time).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_past_the_year_9999_are_unknown() {
        assert_eq!(timestamp(253_402_300_799_999).as_deref(), Some("9999-12-31T23:59:59.999Z"));
        assert_eq!(timestamp(253_402_300_800_000), None);
        assert_eq!(timestamp(u64::MAX), None);
    }

    #[test]
    fn counts_and_sizes() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(exact_bytes(1000), "1000 B");
        assert_eq!(count(1, "direct buffer"), "1 direct buffer");
        assert_eq!(count(1024, "ByteBuf"), "1,024 ByteBufs");
        assert_eq!(count(0, "message"), "0 messages");
        assert_eq!(capitalized("the JDK"), "The JDK");
        assert_eq!(capitalized(""), "");
        assert_eq!(exact_bytes(64 << 20), "64.0 MiB (67,108,864)");
        assert_eq!(signed_exact_bytes(-(64 << 20)), "-64.0 MiB (-67,108,864)");
        assert_eq!(signed_exact_bytes(-12), "-12 B");
        assert_eq!(signed_exact_bytes(12), "12 B");
    }

    #[test]
    fn shares_never_claim_all_or_none_falsely() {
        assert_eq!(percent(1, 0), "-");
        assert_eq!(percent(0, 10), "0.0%");
        assert_eq!(percent(10, 10), "100.0%");
        assert_eq!(percent(66_781_184, 67_117_057), "99.5%");
        assert_eq!(percent(9_999, 10_000), "99.9%");
        assert_eq!(percent(1, 1_000_000), "<0.1%");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(u64::MAX, u64::MAX), "100.0%");
    }

    #[test]
    fn changes_keep_their_sign() {
        assert_eq!(delta(10, 4), -6);
        assert_eq!(delta(0, u64::MAX), i64::MAX);
        assert_eq!(delta(u64::MAX, 0), i64::MIN);
        assert_eq!(signed_bytes(1536), "+1.5 KiB");
        assert_eq!(signed_bytes(-512), "-512 B");
        assert_eq!(signed_bytes(0), "0 B");
        assert_eq!(signed_bytes(i64::MIN), "-8192.0 PiB");
        assert_eq!(signed(-1234), "-1,234");
        assert_eq!(signed(7), "+7");
        assert_eq!(times(40, 10).as_deref(), Some("4.0x"));
        assert_eq!(times(15, 10).as_deref(), Some("1.5x"));
        assert_eq!(times(1, 0), None);
    }

    #[test]
    fn durations_to_the_minute() {
        assert_eq!(duration(59_000), "less than a minute");
        assert_eq!(duration(61_000), "1m");
        assert_eq!(duration(3_900_000), "1h 5m");
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), None);
        assert_eq!(timestamp(1_700_000_000_123).as_deref(), Some("2023-11-14T22:13:20.123Z"));
    }
}
