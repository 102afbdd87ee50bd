//! The two out-of-direct-memory messages users paste, decoded:
//! Netty: `failed to allocate N byte(s) of direct memory (used: U, max: M)`;
//! JDK 17+: `Cannot reserve N bytes of direct buffer memory (allocated: A, limit: L)`.

use crate::report::{AllocationFailure, Counters};

/// Parses a pasted message; `None` when it is neither form.
pub(crate) fn parse(message: &str) -> Option<(&'static str, u64, Option<u64>, Option<u64>)> {
    let number_after = |key: &str| -> Option<u64> {
        let at = message.find(key)? + key.len();
        let digits: String = message[at..].trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    if message.contains("failed to allocate") {
        Some(("netty", number_after("failed to allocate")?, number_after("used:"), number_after("max:")))
    } else if message.contains("Cannot reserve") {
        Some(("jdk", number_after("Cannot reserve")?, number_after("allocated:"), number_after("limit:")))
    } else {
        None
    }
}

pub(crate) fn decode(message: &str, counters: &Counters) -> Option<AllocationFailure> {
    let (source, requested, used, max) = parse(message)?;
    let mut reading = Vec::new();
    if let (Some(used), Some(max)) = (used, max) {
        let room = max.saturating_sub(used);
        reading.push(format!(
            "The allocation asked for {} with {} of {} in use: {} was left, {} short.",
            mib(requested),
            mib(used),
            mib(max),
            mib(room),
            mib(requested.saturating_sub(room))
        ));
    }
    let (now_used, now_max, counter) = match source {
        "netty" => {
            let n = counters.netty.as_ref();
            (n.and_then(|n| n.used), n.and_then(|n| n.max), "Netty's counter (PlatformDependent)")
        }
        _ => {
            let j = counters.jdk.as_ref();
            (j.and_then(|j| j.reserved), j.and_then(|j| j.max), "the JDK's counter (java.nio.Bits)")
        }
    };
    match (now_used, used) {
        (Some(now), Some(then)) => reading.push(format!(
            "In the dump, {counter} reads {} ({} than at the error){}.",
            mib(now.max(0) as u64),
            if now as u64 >= then { "no less" } else { "less" },
            now_max.map(|m| format!(" of a {} limit", mib(m.max(0) as u64))).unwrap_or_default()
        )),
        (None, _) if source == "netty" => reading.push(
            "The dump has no Netty counter: the message came from another process or the counter was off.".into(),
        ),
        _ => {}
    }
    if let (Some(max), Some(now_max)) = (max, now_max) {
        if max != now_max.max(0) as u64 {
            reading.push(format!(
                "The limit in the message ({}) differs from the dump's ({}): the dump may be from another run.",
                mib(max),
                mib(now_max.max(0) as u64)
            ));
        }
    }
    Some(AllocationFailure { source, requested, used, max, reading })
}

pub(crate) fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_both_messages() {
        assert_eq!(
            parse("io.netty.util.internal.OutOfDirectMemoryError: failed to allocate 855638016 byte(s) of direct memory (used: 985661440, max: 1823473664)"),
            Some(("netty", 855638016, Some(985661440), Some(1823473664)))
        );
        assert_eq!(
            parse("java.lang.OutOfMemoryError: Cannot reserve 16777216 bytes of direct buffer memory (allocated: 67108865, limit: 67108864)"),
            Some(("jdk", 16777216, Some(67108865), Some(67108864)))
        );
        assert_eq!(parse("java.lang.OutOfMemoryError: Direct buffer memory"), None);
    }
}
