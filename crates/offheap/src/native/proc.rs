//! What Linux says of a process's memory: `/proc/PID/status`, `/proc/PID/smaps_rollup` and
//! `/proc/PID/smaps`, saved to files.
//!
//! The grammar read (other lines are skipped):
//!
//! ```text
//! status:        KEY:<tabs or spaces>N kB       KEY one of VmRSS, RssAnon, RssFile, RssShmem
//! smaps_rollup:  START-END ---p 00000000 00:00 0   [rollup]
//!                Rss:   N kB   Anonymous:   N kB   (totals over every mapping)
//! smaps:         START-END PERMS OFFSET DEV INODE [PATH]   (one header a mapping)
//!                Rss:   N kB   Anonymous:   N kB   (that mapping's; summed here)
//! ```

use super::{NativeError, ValueError};

/// Which file a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcSource {
    /// `/proc/PID/status`: the kernel's resident-set counters.
    Status,
    /// `/proc/PID/smaps_rollup`: the page tables walked, totals over every mapping.
    SmapsRollup,
    /// `/proc/PID/smaps`: the same, mapping by mapping (summed here).
    Smaps,
}

/// A process's resident memory, in bytes, as one file (or several, merged) says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcMemory {
    /// Where the figures came from; `None` for an empty merge.
    pub source: Option<ProcSource>,
    /// Resident set size (`VmRSS`, or smaps' `Rss` summed).
    pub rss: Option<u64>,
    /// Resident anonymous memory (`RssAnon`, or smaps' `Anonymous`): heap, malloc, stacks.
    pub rss_anon: Option<u64>,
    /// Resident file-backed memory (`RssFile`; from smaps, `Rss - Anonymous`, shared memory
    /// included).
    pub rss_file: Option<u64>,
    /// Resident shared memory (`RssShmem`, status only).
    pub rss_shmem: Option<u64>,
}

impl ProcMemory {
    /// Reads a saved `/proc/PID/status`, `smaps_rollup` or `smaps`, told apart by their lines.
    pub fn parse(text: &str) -> Result<ProcMemory, NativeError> {
        let has = |key: &str| text.lines().any(|l| l.starts_with(key));
        if has("VmRSS:") {
            ProcMemory::parse_status(text)
        } else if has("Rss:") {
            ProcMemory::parse_smaps(text)
        } else {
            Err(NativeError::file(
                "neither /proc/PID/status (no VmRSS line) nor /proc/PID/smaps or smaps_rollup (no Rss line)",
            ))
        }
    }

    /// Reads a saved `/proc/PID/status`.
    pub fn parse_status(text: &str) -> Result<ProcMemory, NativeError> {
        let mut memory = ProcMemory { source: Some(ProcSource::Status), ..ProcMemory::default() };
        for (i, line) in text.lines().enumerate() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let slot = match key {
                "VmRSS" => &mut memory.rss,
                "RssAnon" => &mut memory.rss_anon,
                "RssFile" => &mut memory.rss_file,
                "RssShmem" => &mut memory.rss_shmem,
                _ => continue,
            };
            *slot = Some(kilobytes(value).map_err(|e| NativeError::value(i + 1, key, e))?);
        }
        if memory.rss.is_none() {
            return Err(NativeError::file("no VmRSS line: not a /proc/PID/status of a running process"));
        }
        Ok(memory)
    }

    /// Reads a saved `/proc/PID/smaps_rollup` or `/proc/PID/smaps`: `Rss` and `Anonymous`
    /// summed over its mappings (one, the rollup, for `smaps_rollup`).
    pub fn parse_smaps(text: &str) -> Result<ProcMemory, NativeError> {
        let (mut rss, mut anon, mut seen_rss, mut seen_anon) = (0u64, 0u64, false, false);
        let mut rollup = false;
        for (i, line) in text.lines().enumerate() {
            rollup |= line.ends_with("[rollup]");
            let Some((key, value)) = line.split_once(':') else { continue };
            let (sum, seen) = match key {
                "Rss" => (&mut rss, &mut seen_rss),
                "Anonymous" => (&mut anon, &mut seen_anon),
                _ => continue,
            };
            let bytes = kilobytes(value).map_err(|e| NativeError::value(i + 1, key, e))?;
            *sum = sum.checked_add(bytes).ok_or_else(|| NativeError::value(i + 1, key, ValueError::SumOverflows))?;
            *seen = true;
        }
        if !seen_rss {
            return Err(NativeError::file("no Rss line: not a /proc/PID/smaps or smaps_rollup"));
        }
        Ok(ProcMemory {
            source: Some(if rollup { ProcSource::SmapsRollup } else { ProcSource::Smaps }),
            rss: Some(rss),
            rss_anon: seen_anon.then_some(anon),
            rss_file: seen_anon.then(|| rss.saturating_sub(anon)),
            rss_shmem: None,
        })
    }

    /// One reading from several files: smaps' figures for `rss` and `rss_anon` (the page
    /// tables walked, exact at that moment), status's for `rss_file` and `rss_shmem` (smaps
    /// counts shared memory as file-backed); each falls back on the other files.
    pub fn merge(readings: &[ProcMemory]) -> ProcMemory {
        let smaps = || readings.iter().filter(|r| r.source != Some(ProcSource::Status));
        let status = || readings.iter().filter(|r| r.source == Some(ProcSource::Status));
        let pick = |first: &dyn Fn() -> Option<u64>, then: &dyn Fn() -> Option<u64>| first().or_else(then);
        ProcMemory {
            source: smaps().chain(status()).next().and_then(|r| r.source),
            rss: pick(&|| smaps().find_map(|r| r.rss), &|| status().find_map(|r| r.rss)),
            rss_anon: pick(&|| smaps().find_map(|r| r.rss_anon), &|| status().find_map(|r| r.rss_anon)),
            rss_file: pick(&|| status().find_map(|r| r.rss_file), &|| smaps().find_map(|r| r.rss_file)),
            rss_shmem: status().find_map(|r| r.rss_shmem),
        }
    }
}

/// `   91256 kB` → 93446144.
fn kilobytes(value: &str) -> Result<u64, ValueError> {
    let mut words = value.split_whitespace();
    let number = words.next().ok_or(ValueError::Missing)?;
    let n: u64 = number.parse().map_err(|source| ValueError::NotANumber { text: number.to_string(), source })?;
    match words.next() {
        Some("kB") => n.checked_mul(1024).ok_or(ValueError::TooLarge),
        Some(unit) => Err(ValueError::UnknownUnit(unit.to_string())),
        None => Err(ValueError::NoUnit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: u64 = 1024;

    /// Lines of fixtures/native-jdk17.status.
    const STATUS: &str = "Name:\tjava
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 2463400 kB
VmHWM:\t   91256 kB
VmRSS:\t   91256 kB
RssAnon:\t   71852 kB
RssFile:\t   19404 kB
RssShmem:\t       0 kB
Threads:\t17
";

    /// Two mappings of fixtures/native-jdk17.smaps, cut to the lines that matter and a few more.
    const SMAPS: &str = "fc000000-100000000 rw-p 00000000 00:00 0 
Size:              65536 kB
Rss:                6232 kB
Pss:                6232 kB
Anonymous:          6232 kB
VmFlags: rd wr mr mw me ac 
5606ac469000-5606ac46a000 r--p 00000000 fe:00 314800                     /usr/lib/jvm/java-17-openjdk-amd64/bin/java
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw sd 
";

    #[test]
    fn status() {
        let m = ProcMemory::parse(STATUS).unwrap();
        assert_eq!(m.source, Some(ProcSource::Status));
        assert_eq!(m.rss, Some(91256 * KB));
        assert_eq!(m.rss_anon, Some(71852 * KB));
        assert_eq!(m.rss_file, Some(19404 * KB));
        assert_eq!(m.rss_shmem, Some(0));
    }

    #[test]
    fn smaps_are_summed_and_the_rollup_is_told_apart() {
        let m = ProcMemory::parse(SMAPS).unwrap();
        assert_eq!(m.source, Some(ProcSource::Smaps));
        assert_eq!((m.rss, m.rss_anon, m.rss_file), (Some(6236 * KB), Some(6232 * KB), Some(4 * KB)));
        let rollup = "fc000000-7ffdba813000 ---p 00000000 00:00 0                              [rollup]
Rss:               91280 kB
Pss:               89106 kB
Anonymous:         71876 kB
";
        let m = ProcMemory::parse(rollup).unwrap();
        assert_eq!(m.source, Some(ProcSource::SmapsRollup));
        assert_eq!((m.rss, m.rss_anon), (Some(91280 * KB), Some(71876 * KB)));
    }

    #[test]
    fn merged_readings_prefer_the_page_walk_for_rss() {
        let status = ProcMemory::parse(STATUS).unwrap();
        let smaps = ProcMemory::parse(SMAPS).unwrap();
        let m = ProcMemory::merge(&[status, smaps]);
        assert_eq!(m.source, Some(ProcSource::Smaps));
        assert_eq!((m.rss, m.rss_anon, m.rss_file), (Some(6236 * KB), Some(6232 * KB), Some(19404 * KB)));
        assert_eq!(ProcMemory::merge(&[]), ProcMemory::default());
    }

    #[test]
    fn errors_name_the_line() {
        let e = ProcMemory::parse("Name:\tjava\nVmRSS:\t  12x kB\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: VmRSS: not a number: \"12x\"");
        // The value's own error is kept beneath, down to the parse's.
        let value = std::error::Error::source(&e).expect("the value's error");
        assert_eq!(value.to_string(), "not a number: \"12x\"");
        assert!(value.source().is_some_and(|e| e.is::<std::num::ParseIntError>()));
        let e = ProcMemory::parse("Rss: 4 kB\nRss: 4 MB\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: Rss: unknown unit \"MB\"");
        let e = ProcMemory::parse("Rss: 18446744073709551615 kB\n").unwrap_err();
        assert_eq!(e.line(), Some(1));
        let e = ProcMemory::parse("Rss: 18014398509481983 kB\nRss: 18014398509481983 kB\n").unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
        let e = ProcMemory::parse("hello").unwrap_err();
        assert_eq!(e.line(), None);
        for text in ["", "VmRSS:", "Rss:", "RssAnon: 1 kB", ":::"] {
            assert!(ProcMemory::parse(text).is_err(), "{text}");
        }
    }
}
