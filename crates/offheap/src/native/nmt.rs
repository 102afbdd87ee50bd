//! HotSpot's Native Memory Tracking as `jcmd PID VM.native_memory` prints it: `summary`,
//! `detail` (whose first part is the summary) and `summary.diff`, JDK 11 to 25.
//!
//! The grammar read, as `memReporter.cpp` writes it (other lines are skipped):
//!
//! ```text
//! PID:                                      (jcmd's own first line)
//! Native Memory Tracking:
//! Total: reserved=AMOUNT [DELTA], committed=AMOUNT [DELTA]
//! -  NAME (reserved=AMOUNT [DELTA], committed=AMOUNT [DELTA][, readonly=AMOUNT])
//!         (malloc=..., mmap: ..., thread #N, ...)   (continuation lines, skipped)
//! Virtual memory map: | Details: | Memory file details   (detail mode: the end of the summary)
//! ```
//!
//! AMOUNT is digits and the scale's unit: `KB` (the default), `MB` or `GB` with `scale=`, none
//! with `scale=b`. DELTA, in `summary.diff` only, is `+N` or `-N` with the same unit. JDK 17
//! added `malloc:`/`mmap:` lines under the total, JDK 21 the `(at peak)` notes and `tag=` in
//! malloc lines, JDK 25 `readonly=` on the shared class space: none of them changes the lines
//! read here.

use super::{NativeError, ValueError};

/// A reserved and a committed amount, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    /// Address space reserved.
    pub reserved: u64,
    /// Memory committed: malloc'd, or mapped and committed.
    pub committed: u64,
}

/// One NMT category, as NMT names it (`Java Heap`, `Class`, `Thread`, `Other`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NmtCategory {
    /// NMT's name for it.
    pub name: String,
    /// Its reserved and committed bytes.
    pub amounts: Amounts,
    /// In a `summary.diff`: the change since the baseline (reserved, committed), in bytes.
    pub delta: Option<(i64, i64)>,
}

/// A parsed `VM.native_memory` report: the total and every category, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nmt {
    scale: u64,
    total: Amounts,
    total_delta: Option<(i64, i64)>,
    categories: Vec<NmtCategory>,
}

impl Nmt {
    /// Reads the text of `jcmd PID VM.native_memory summary` (or `detail`, or `summary.diff`).
    /// The error names the line that could not be read.
    pub fn parse(text: &str) -> Result<Nmt, NativeError> {
        let mut total = None;
        let mut categories = Vec::new();
        let mut scale = None;
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            let line = raw.trim();
            if line.starts_with("Virtual memory map:") || line == "Details:" || line.starts_with("Memory file details")
            {
                break;
            }
            if line.contains("Native memory tracking is not enabled") {
                return Err(NativeError::at(
                    number,
                    "Native Memory Tracking is off in this process: start it with -XX:NativeMemoryTracking=summary",
                ));
            }
            if let Some(rest) = line.strip_prefix("Total:") {
                let (amounts, delta, unit) = amounts(rest.trim(), number)?;
                scale.get_or_insert(unit);
                total = Some((amounts, delta));
            } else if let Some(rest) = raw.strip_prefix('-') {
                // `-   NAME (reserved=..., committed=...)`; in a diff, a category may read
                // `(reserved=0KB -12KB, ...)`, never at the start of the line.
                let Some(open) = rest.find("(reserved=") else { continue };
                let name = rest[..open].trim();
                let inner = rest[open + 1..].trim_end();
                let inner = inner.strip_suffix(')').ok_or_else(|| NativeError::at(number, "no closing parenthesis"))?;
                if name.is_empty() {
                    return Err(NativeError::at(number, "a category without a name"));
                }
                let (amounts, delta, _) = amounts(inner, number)?;
                categories.push(NmtCategory { name: name.to_string(), amounts, delta });
            }
        }
        let Some((total, total_delta)) = total else {
            return Err(NativeError::file(
                "no \"Total: reserved=..., committed=...\" line: not the output of jcmd PID VM.native_memory summary",
            ));
        };
        // In a diff, an amount printed without a change did not change.
        let diff = total_delta.is_some() || categories.iter().any(|c| c.delta.is_some());
        if diff {
            for c in &mut categories {
                c.delta.get_or_insert((0, 0));
            }
        }
        let total_delta = if diff { Some(total_delta.unwrap_or((0, 0))) } else { None };
        Ok(Nmt { scale: scale.unwrap_or(1), total, total_delta, categories })
    }

    /// Bytes per unit the report was printed in: 1024 for NMT's default `KB`, 1 for `scale=b`.
    /// Amounts were truncated to the unit, so they are exact to it only.
    pub fn scale(&self) -> u64 {
        self.scale
    }

    /// The total reserved and committed bytes.
    pub fn total(&self) -> Amounts {
        self.total
    }

    /// In a `summary.diff`: the total's change since the baseline (reserved, committed).
    pub fn total_delta(&self) -> Option<(i64, i64)> {
        self.total_delta
    }

    /// Every category, in NMT's order.
    pub fn categories(&self) -> &[NmtCategory] {
        &self.categories
    }

    /// The category NMT names `name` (`"Java Heap"`, `"Other"`), if it printed one.
    pub fn category(&self, name: &str) -> Option<&NmtCategory> {
        self.categories.iter().find(|c| c.name == name)
    }

    /// Committed bytes of the category named `name`; `None` when NMT did not print it
    /// (categories under one unit of the scale are left out).
    pub fn committed(&self, name: &str) -> Option<u64> {
        self.category(name).map(|c| c.amounts.committed)
    }

    /// Reserved bytes of the category named `name`.
    pub fn reserved(&self, name: &str) -> Option<u64> {
        self.category(name).map(|c| c.amounts.reserved)
    }

    /// Whether this is a `summary.diff` (the amounts are the current ones; deltas beside them).
    pub fn is_diff(&self) -> bool {
        self.total_delta.is_some()
    }
}

/// What a `(reserved=..., committed=...)` says: the two amounts, their changes in a diff, and
/// the unit's bytes.
type Read = (Amounts, Option<(i64, i64)>, u64);

/// `reserved=AMOUNT [DELTA], committed=AMOUNT [DELTA][, other=...]`: the two amounts, the
/// deltas when either has one, and the unit's bytes.
fn amounts(text: &str, line: usize) -> Result<Read, NativeError> {
    let mut reserved = None;
    let mut committed = None;
    for field in text.split(',') {
        let Some((key, value)) = field.trim().split_once('=') else { continue };
        let mut words = value.split_whitespace();
        let current = words.next().ok_or_else(|| NativeError::at(line, format!("no amount after {key}=")))?;
        let (bytes, unit) = amount(current).map_err(|e| NativeError::value(line, format!("{key}={current}"), e))?;
        let delta = match words.next() {
            Some(d) => Some(signed(d).map_err(|e| NativeError::value(line, format!("{key}: change {d}"), e))?),
            None => None,
        };
        match key {
            "reserved" => reserved = Some((bytes, delta, unit)),
            "committed" => committed = Some((bytes, delta, unit)),
            _ => {}
        }
    }
    let (Some(r), Some(c)) = (reserved, committed) else {
        return Err(NativeError::at(line, "expected reserved=AMOUNT and committed=AMOUNT"));
    };
    // A diff prints a change only where there is one.
    let delta = match (r.1, c.1) {
        (None, None) => None,
        (r, c) => Some((r.unwrap_or(0), c.unwrap_or(0))),
    };
    Ok((Amounts { reserved: r.0, committed: c.0 }, delta, r.2))
}

/// `1234KB` → (1263616, 1024); `5MB`, `1GB`, `1234` (scale=b).
fn amount(text: &str) -> Result<(u64, u64), ValueError> {
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let scale: u64 = match unit {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return Err(ValueError::UnknownUnit(unit.to_string())),
    };
    let n: u64 = number.parse().map_err(ValueError::NoNumber)?;
    n.checked_mul(scale).map(|b| (b, scale)).ok_or(ValueError::TooLarge)
}

/// `+63965KB`, `-12KB` → bytes with the sign.
fn signed(text: &str) -> Result<i64, ValueError> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => return Err(ValueError::NoSign),
    };
    let (bytes, _) = amount(rest)?;
    let bytes = i64::try_from(bytes).map_err(|_| ValueError::TooLarge)?;
    Ok(if negative { -bytes } else { bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: u64 = 1024;

    /// Real output of JDK 17 (fixtures/native-jdk17.nmt-summary.txt), cut to four categories.
    const JDK17: &str = "30914:

Native Memory Tracking:

(Omitting categories weighting less than 1KB)

Total: reserved=1321692KB, committed=145776KB
       malloc: 61388KB #20423
       mmap:   reserved=1260304KB, committed=84388KB

-                 Java Heap (reserved=65536KB, committed=65536KB)
                            (mmap: reserved=65536KB, committed=65536KB) 
 
-                    Thread (reserved=14514KB, committed=982KB)
                            (thread #15)
                            (stack: reserved=14472KB, committed=940KB)
                            (malloc=26KB #94) (peak=34KB #98) 
 
-                     Other (reserved=57346KB, committed=57346KB)
                            (malloc=57346KB #9) (at peak) 
 
-    Native Memory Tracking (reserved=326KB, committed=326KB)
                            (malloc=7KB #114) (at peak) 
                            (tracking overhead=319KB)
";

    /// The JDK 11 layout, written here from `memReporter.cpp` of jdk-11 (no `malloc:`/`mmap:`
    /// lines under the total, `thread #N`, `(malloc=...KB #N)`): a hand-made sample, not a real
    /// output.
    const JDK11_SAMPLE: &str = "
Native Memory Tracking:

Total: reserved=1457214KB, committed=158226KB
-                 Java Heap (reserved=65536KB, committed=65536KB)
                            (mmap: reserved=65536KB, committed=65536KB) 
 
-                     Class (reserved=1056893KB, committed=9853KB)
                            (classes #1421)
                            (  instance classes #1290, array classes #131)
                            (malloc=125KB #1483) 
                            (mmap: reserved=1056768KB, committed=9728KB) 
                            (  Metadata:   )
                            (    reserved=8192KB, committed=8064KB)
                            (    used=7789KB)
                            (    free=275KB)
                            (    waste=0KB =0.00%)
 
-                     Other (reserved=32KB, committed=32KB)
                            (malloc=32KB #3) 
 
";

    #[test]
    fn jdk17_summary() {
        let nmt = Nmt::parse(JDK17).unwrap();
        assert_eq!(nmt.scale(), KB);
        assert_eq!(nmt.total(), Amounts { reserved: 1321692 * KB, committed: 145776 * KB });
        assert_eq!(nmt.categories().len(), 4);
        assert_eq!(nmt.committed("Java Heap"), Some(65536 * KB));
        assert_eq!(nmt.reserved("Thread"), Some(14514 * KB));
        assert_eq!(nmt.committed("Other"), Some(57346 * KB));
        assert_eq!(nmt.committed("Native Memory Tracking"), Some(326 * KB));
        assert_eq!(nmt.committed("Compiler"), None);
        assert!(!nmt.is_diff());
    }

    #[test]
    fn jdk11_layout() {
        let nmt = Nmt::parse(JDK11_SAMPLE).unwrap();
        assert_eq!(nmt.total().committed, 158226 * KB);
        let names: Vec<&str> = nmt.categories().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Java Heap", "Class", "Other"]);
        assert_eq!(nmt.committed("Class"), Some(9853 * KB));
    }

    #[test]
    fn jdk25_summary_and_its_new_notes() {
        let text = "31046:

Native Memory Tracking:

Total: reserved=1325405KB, committed=153833KB
       malloc: 67153KB #13463, peak=66916KB #13465
       mmap:   reserved=1258252KB, committed=86680KB

-                 Java Heap (reserved=65536KB, committed=65536KB)
                            (mmap: reserved=65536KB, committed=65536KB, at peak)

-        Shared class space (reserved=16384KB, committed=13908KB, readonly=0KB)
                            (mmap: reserved=16384KB, committed=13908KB, peak=14116KB)

-      String Deduplication (reserved=1KB, committed=1KB)
                            (malloc=1KB tag=String Deduplication #8) (at peak)
";
        let nmt = Nmt::parse(text).unwrap();
        assert_eq!(nmt.committed("Shared class space"), Some(13908 * KB));
        assert_eq!(nmt.committed("String Deduplication"), Some(KB));
    }

    #[test]
    fn summary_diff_takes_current_values_and_deltas() {
        let text = "Native Memory Tracking:

Total: reserved=1325405KB +63965KB, committed=153833KB +66721KB

malloc=67153KB +63965KB #13469 +7614

-                 Java Heap (reserved=65536KB, committed=65536KB)
                            (mmap: reserved=65536KB, committed=65536KB)

-                     Other (reserved=57346KB +57344KB, committed=57346KB +57344KB)
                            (malloc=57346KB +57344KB #9 +8)

-                    Thread (reserved=12470KB, committed=986KB +68KB)

-                  Internal (reserved=1226KB -3KB, committed=1226KB -3KB)
";
        let nmt = Nmt::parse(text).unwrap();
        assert!(nmt.is_diff());
        assert_eq!(nmt.total().committed, 153833 * KB);
        assert_eq!(nmt.total_delta(), Some((63965 * KB as i64, 66721 * KB as i64)));
        let other = nmt.category("Other").unwrap();
        assert_eq!(other.amounts.committed, 57346 * KB);
        assert_eq!(other.delta, Some((57344 * KB as i64, 57344 * KB as i64)));
        assert_eq!(nmt.category("Java Heap").unwrap().delta, Some((0, 0)));
        assert_eq!(nmt.category("Thread").unwrap().delta, Some((0, 68 * KB as i64)));
        assert_eq!(nmt.category("Internal").unwrap().delta, Some((-3 * KB as i64, -3 * KB as i64)));
    }

    #[test]
    fn scales() {
        let mb = "Native Memory Tracking:\n\nTotal: reserved=1290MB, committed=150MB\n-   Other (reserved=56MB, committed=56MB)\n";
        let nmt = Nmt::parse(mb).unwrap();
        assert_eq!((nmt.scale(), nmt.committed("Other")), (1 << 20, Some(56 << 20)));
        let gb = "Total: reserved=7GB, committed=0GB\n-   Java Heap (reserved=6GB, committed=0GB)\n";
        assert_eq!(Nmt::parse(gb).unwrap().reserved("Java Heap"), Some(6 << 30));
        let bytes = "Total: reserved=8033458994, committed=499088178\n-   Other (reserved=1234, committed=1234)\n";
        let nmt = Nmt::parse(bytes).unwrap();
        assert_eq!((nmt.scale(), nmt.total().committed, nmt.committed("Other")), (1, 499088178, Some(1234)));
    }

    #[test]
    fn detail_stops_at_the_per_site_part() {
        let text = format!(
            "{JDK17}\nVirtual memory map:\n\n[0x1 - 0x2] reserved 4KB for Other from\n-  Bogus (reserved=x, committed=y)\n"
        );
        assert_eq!(Nmt::parse(&text).unwrap().categories().len(), 4);
    }

    #[test]
    fn errors_name_the_line() {
        let e = Nmt::parse("Native Memory Tracking:\n\nTotal: reserved=12QB, committed=1KB\n").unwrap_err();
        assert_eq!(e.to_string(), "line 3: reserved=12QB: unknown unit \"QB\"");
        let e = Nmt::parse("Total: reserved=1KB, committed=1KB\n-  Other (reserved=1KB, committed=\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        let e = Nmt::parse("Total: reserved=1KB\n").unwrap_err();
        assert!(e.to_string().starts_with("line 1: expected reserved"), "{e}");
        let e = Nmt::parse("Total: reserved=99999999999999999999KB, committed=1KB\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: reserved=99999999999999999999KB: not a number");
        let number = std::error::Error::source(&e).and_then(|value| value.source());
        assert!(number.is_some_and(|e| e.is::<std::num::ParseIntError>()), "{e:?}");
        let e = Nmt::parse("Total: reserved=1KB 12KB, committed=1KB\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: reserved: change 12KB: expected +N or -N");
        assert!(std::error::Error::source(&e).is_some());
        let e = Nmt::parse("hello\n").unwrap_err();
        assert_eq!(e.line(), None);
        assert!(e.to_string().contains("not the output of jcmd"), "{e}");
        let e = Nmt::parse("1234:\nNative memory tracking is not enabled\n").unwrap_err();
        assert!(e.to_string().contains("-XX:NativeMemoryTracking=summary"), "{e}");
        // Never a panic, whatever the bytes.
        for text in [
            "-",
            "-(reserved=",
            "- x (reserved=1KB, committed=1KB",
            "Total:",
            "Total: =,=",
            "-  (reserved=1KB, committed=1KB)",
        ] {
            assert!(Nmt::parse(text).is_err(), "{text}");
        }
    }
}
