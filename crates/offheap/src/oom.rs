//! The two out-of-direct-memory messages users paste, decoded:
//! Netty: `failed to allocate N byte(s) of direct memory (used: U, max: M)`;
//! JDK 17+: `Cannot reserve N bytes of direct buffer memory (allocated: A, limit: L)`.

use crate::report::{AllocationFailure, CounterSource, Counters, RequestShape};
use crate::units::{human_bytes as mib, thousands};

/// Netty grows a buffer by doubling up to this size, then in steps of it
/// (`AbstractByteBufAllocator.calculateNewCapacity`).
const GROWTH_STEP: u64 = 4 << 20;

/// What the size asked for says about who asked: a pool's new chunk (one of the dump's chunk
/// sizes), a buffer growing past 4 MiB in 4 MiB steps, a buffer doubling below it, or nothing.
pub(crate) fn shape(requested: u64, chunk_sizes: &[u64]) -> RequestShape {
    if chunk_sizes.contains(&requested) {
        RequestShape::PoolChunk { chunk_size: requested }
    } else if requested > GROWTH_STEP && requested % GROWTH_STEP == 0 {
        RequestShape::Growth { step: GROWTH_STEP, multiple: requested / GROWTH_STEP }
    } else if requested.is_power_of_two() && (64..=GROWTH_STEP).contains(&requested) {
        RequestShape::Doubling { power_of_two: requested }
    } else {
        RequestShape::None
    }
}

/// The shape in a sentence.
fn shape_reading(shape: RequestShape, requested: u64) -> Option<String> {
    match shape {
        RequestShape::PoolChunk { chunk_size } => Some(format!(
            "{} is the pool's chunk size ({}): a pooled allocator asked for a new chunk because its chunks were \
             full, so what holds the pooled ByteBufs is what filled the memory.",
            thousands(requested),
            mib(chunk_size)
        )),
        RequestShape::Growth { step, multiple } => Some(format!(
            "{} is {multiple} x {}: the size Netty gives a buffer growing past {} in steps of {}. One buffer \
             was growing with one large message (a big reply read, a big request written), not many small \
             allocations.",
            thousands(requested),
            mib(step),
            mib(step),
            mib(step)
        )),
        RequestShape::Doubling { power_of_two } => Some(format!(
            "{} is a power of two ({}): a buffer doubling as it grows, or a fixed-size buffer.",
            thousands(requested),
            mib(power_of_two)
        )),
        RequestShape::None => None,
    }
}

/// Parses a pasted message; `None` when it is neither form.
pub(crate) fn parse(message: &str) -> Option<(CounterSource, u64, Option<u64>, Option<u64>)> {
    let number_after = |key: &str| -> Option<u64> {
        let at = message.find(key)? + key.len();
        let digits: String = message[at..].trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse().ok()
    };
    if message.contains("failed to allocate") {
        Some((CounterSource::Netty, number_after("failed to allocate")?, number_after("used:"), number_after("max:")))
    } else if message.contains("Cannot reserve") {
        Some((CounterSource::Jdk, number_after("Cannot reserve")?, number_after("allocated:"), number_after("limit:")))
    } else {
        None
    }
}

/// The message read against the dump's counters and its pooled allocators' `chunk_sizes`.
pub(crate) fn decode(message: &str, counters: &Counters, chunk_sizes: &[u64]) -> Option<AllocationFailure> {
    let (source, requested, used, max) = parse(message)?;
    let mut reading = Vec::new();
    let shape = shape(requested, chunk_sizes);
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
        CounterSource::Netty => {
            let n = counters.netty.as_ref();
            (n.and_then(|n| n.used), n.and_then(|n| n.max), "Netty's counter (PlatformDependent)")
        }
        CounterSource::Jdk => {
            let j = counters.jdk.as_ref();
            (j.and_then(|j| j.reserved), j.and_then(|j| j.max), "the JDK's counter (java.nio.Bits)")
        }
    };
    match (now_used, used) {
        (Some(now), Some(then)) => reading.push(format!(
            "In the dump, {counter} reads {} ({} than at the error){}.",
            mib(now.max(0) as u64),
            if u64::try_from(now).unwrap_or(0) >= then { "no less" } else { "less" },
            now_max.map(|m| format!(" of a {} limit", mib(m.max(0) as u64))).unwrap_or_default()
        )),
        (None, _) if source == CounterSource::Netty => reading.push(
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
    reading.extend(shape_reading(shape, requested));
    Some(AllocationFailure { source, requested, used, max, shape, reading })
}

#[cfg(test)]
mod tests {
    use super::{parse, shape};
    use crate::report::RequestShape;

    #[test]
    fn shapes_of_the_size_asked() {
        // The incident this project exists for: one buffer growing to 816 MiB.
        assert_eq!(shape(855_638_016, &[16 << 20]), RequestShape::Growth { step: 4 << 20, multiple: 204 });
        assert_eq!(shape(16 << 20, &[16 << 20]), RequestShape::PoolChunk { chunk_size: 16 << 20 });
        assert_eq!(shape(16 << 20, &[]), RequestShape::Growth { step: 4 << 20, multiple: 4 });
        assert_eq!(shape(4 << 20, &[]), RequestShape::Doubling { power_of_two: 4 << 20 });
        assert_eq!(shape(65_536, &[]), RequestShape::Doubling { power_of_two: 65_536 });
        assert_eq!(shape(100_000, &[]), RequestShape::None);
        assert_eq!(shape(32, &[]), RequestShape::None);
    }
    use crate::report::CounterSource;

    #[test]
    fn reads_both_messages() {
        assert_eq!(
            parse("io.netty.util.internal.OutOfDirectMemoryError: failed to allocate 855638016 byte(s) of direct memory (used: 985661440, max: 1823473664)"),
            Some((CounterSource::Netty, 855638016, Some(985661440), Some(1823473664)))
        );
        assert_eq!(
            parse("java.lang.OutOfMemoryError: Cannot reserve 16777216 bytes of direct buffer memory (allocated: 67108865, limit: 67108864)"),
            Some((CounterSource::Jdk, 16777216, Some(67108865), Some(67108864)))
        );
        assert_eq!(parse("java.lang.OutOfMemoryError: Direct buffer memory"), None);
    }
}
