//! Issue 16's inputs, each a regression test: huge outputs, hostile names, class cycles,
//! absurd counters, and every command's answer to them.

use std::path::Path;
use std::process::Stdio;

use dumpscan_testkit::samples::{self, EVIL_CLASS};

use super::run::{self, dumpscan, stderr};

/// Runs dumpscan with stdout to a file; its output's size, longest line, and the peak
/// resident memory of that one child (its own `wait4`, not every child's).
fn measured(args: &[&str], dir: &Path) -> (u64, usize, u64) {
    let out_path = dir.join("out.txt");
    let file = std::fs::File::create(&out_path).unwrap();
    #[allow(clippy::zombie_processes)] // reaped by the wait4 below, which also gives its rusage
    let child = run::command(args).stdout(file).stderr(Stdio::null()).spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, whose pid std gave us; the child is not waited for
    // again (it is dropped, not killed or waited).
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{args:?}: status {status}");
    let text = std::fs::read(&out_path).unwrap();
    let longest = text.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
    (text.len() as u64, longest, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn top_zero_output_grows_with_the_rows_not_the_longest_path() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("long-list.hprof");
    std::fs::write(&dump, samples::linked_list(100_000)).unwrap();
    let dump = dump.to_str().unwrap();
    let runs: [&[&str]; 7] = [
        &["dominators", dump, "--top", "0"],
        &["dominators", dump, "--top", "0", "--format", "json"],
        &["paths", dump, "--class", "com.example.Node", "--top", "0"],
        &["paths", dump, "--class", "com.example.Node", "--top", "0", "--format", "json"],
        &[dump, "--top", "0"],
        &[dump, "--top", "0", "--format", "json"],
        &["histogram", dump, "--top", "0"],
    ];
    for args in runs {
        let (bytes, longest, peak) = measured(args, dir.path());
        // 100,000 rows of a few hundred characters at most; before, each row was padded to
        // the longest path (a hundred thousand steps).
        assert!(longest < 1_000, "{args:?}: a line of {longest} bytes");
        assert!(bytes < 60 << 20, "{args:?}: {bytes} bytes of output");
        assert!(peak < 400 << 20, "{args:?}: peak of {} MiB", peak >> 20);
    }
}

/// The first control or reordering character in `bytes`, if any: C0 (but newline and tab),
/// DEL, C1 (UTF-8 `C2 80`..`C2 9F`), bidi embeddings, overrides and isolates.
fn raw_control(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find(|&i| match bytes[i..] {
        [b, ..] if (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f => true,
        [0xc2, c, ..] => (0x80..=0x9f).contains(&c),
        [0xe2, 0x80, c, ..] => (0xaa..=0xae).contains(&c),
        [0xe2, 0x81, c, ..] => (0xa6..=0xa9).contains(&c),
        _ => false,
    })
}

#[test]
fn names_from_the_dump_reach_no_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, outer) = samples::hostile_names();
    let dump = dir.path().join("hostile.hprof");
    std::fs::write(&dump, bytes).unwrap();
    let dump = dump.to_str().unwrap();
    let id = format!("0x{outer:x}");
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for format in ["table", "json", "markdown", "html"] {
        runs.push(vec![dump, "--format", format, "--top", "0"]);
        runs.push(vec!["diff", dump, dump, "--format", format]);
    }
    for format in ["table", "json"] {
        runs.push(vec!["info", dump, "--format", format]);
        runs.push(vec!["histogram", dump, "--format", format, "--retained"]);
        runs.push(vec!["paths", dump, "--class", EVIL_CLASS, "--format", format]);
        runs.push(vec!["dominators", dump, "--top", "0", "--format", format]);
        runs.push(vec!["inspect", dump, "--id", &id, "--format", format]);
    }
    for args in &runs {
        let out = dumpscan(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        if let Some(at) = raw_control(&out.stdout) {
            let from = at.saturating_sub(60);
            panic!("{args:?}: a raw control at byte {at}: {:?}", String::from_utf8_lossy(&out.stdout[from..at + 10]));
        }
        assert!(raw_control(&out.stderr).is_none(), "{args:?}: {:?}", stderr(&out));
        if args.contains(&"json") {
            // JSON still carries the names as the dump had them (the report and the diff
            // name no class here: the dump holds no off-heap memory).
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let named = ["info", "histogram", "paths", "dominators", "inspect"].contains(&args[0]);
            assert!(!named || doc.to_string().contains("\\u001b]0;"), "{args:?}");
        }
    }
    // Escaped, not dropped: the terminal sees what the name holds.
    let out = dumpscan(&["histogram", dump]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("com.evil.Title\\u001b]0;pwned\\u0007Red"));
    // A report written to a file is escaped as well.
    let file = dir.path().join("report.md");
    let out = dumpscan(&[dump, "--format", "markdown", "-o", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(raw_control(&std::fs::read(&file).unwrap()), None);
}

#[test]
fn a_super_class_cycle_is_named_once_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cycle.hprof");
    std::fs::write(&path, samples::class_cycle()).unwrap();
    let dump = path.to_str().unwrap();
    for args in [&["histogram", dump][..], &[dump], &["dominators", dump], &["info", dump]] {
        let out = dumpscan(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        if args[0] != "info" {
            assert_eq!(err.matches("form a cycle").count(), 1, "{args:?}: {err}");
            for class in ["java.lang.Object", "com.example.A", "com.example.B"] {
                assert!(err.contains(class), "{args:?}: {err}");
            }
        }
    }
    // The cut chain still sizes every instance: A's and B's fields, then nothing.
    let out = dumpscan(&["histogram", dump, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = doc["classes"].as_array().unwrap().iter().find(|c| c["name"] == "com.example.A").unwrap().clone();
    assert_eq!(a["instances"], 1000);
}

#[test]
fn a_device_is_refused_like_a_directory_or_a_pipe() {
    for command in ["info", "histogram", "dominators", "report"] {
        let out = dumpscan(&[command, "/dev/zero"]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{command}: {err}");
        assert!(err.contains("/dev/zero: is a character device, not a regular file"), "{command}: {err}");
    }
}

#[test]
fn a_reader_that_leaves_after_the_first_line_is_a_normal_end() {
    use std::io::{BufRead, BufReader};
    let dump = super::fixture("direct-buffers-jdk17.hprof.gz");
    let runs: [&[&str]; 7] = [
        &["histogram", &dump, "--top", "0"],
        &["dominators", &dump, "--top", "0"],
        &[&dump, "--top", "0"],
        &["diff", &dump, &dump],
        &["info", &dump],
        &["paths", &dump, "--class", "java.lang.String", "--top", "0"],
        &["dominators", &dump, "--top", "0", "--format", "json"],
    ];
    for args in runs {
        let mut child = run::spawn_piped(args, Stdio::null());
        // `| head -1`: one line read, then the pipe closed.
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "{args:?}");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn counters_at_the_ends_of_their_types_saturate() {
    let dump = dumpscan::hprof::Dump::from_vec(samples::absurd_counters()).unwrap();
    for error in [
        "failed to allocate 18446744073709551615 byte(s) of direct memory (used: 9223372036854775807, max: -9223372036854775808)",
        "Cannot reserve 9223372036854775807 bytes of direct buffer memory (allocated: -1, limit: 9223372036854775807)",
    ] {
        let mut out = Vec::new();
        dumpscan_cli::render_all(&dump, Some(error), &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("java.nio.DirectByteBuffer"));
    }
    // Sums saturate rather than wrap (a release build does not panic on overflow; the fuzz
    // target, built with overflow checks, found the dominators' sum wrapping here).
    let heap = dumpscan::heap::Heap::build(&dump).unwrap();
    let report = dumpscan::offheap::analyze_heap(&heap, "absurd", &dumpscan::Options::default(), &|_| {});
    assert_eq!(report.dominators.first().map(|d| d.retained_native_bytes), Some(u64::MAX), "{:?}", report.dominators);
}

#[test]
fn netty_pools_with_absurd_sizes_end_in_a_report() {
    let dump = dumpscan::hprof::Dump::from_vec(samples::absurd_netty_pool()).unwrap();
    let mut out = Vec::new();
    dumpscan_cli::render_all(&dump, None, &mut out).unwrap();
    let heap = dumpscan::heap::Heap::build(&dump).unwrap();
    let report = dumpscan::offheap::analyze_heap(&heap, "absurd", &dumpscan::Options::default(), &|_| {});
    let pool = report.netty.iter().find(|a| !a.arenas.is_empty()).expect("the pooled allocator");
    let arena = &pool.arenas[0];
    // Negative sizes count as none, sums stop at the top of their type, and a free count
    // never passes its chunk's size.
    assert_eq!(arena.chunk_bytes, i64::MAX as u64, "{arena:?}");
    assert!(arena.free_bytes <= arena.chunk_bytes && arena.used_bytes <= arena.chunk_bytes, "{arena:?}");
    assert_eq!((arena.cached_bytes, arena.live_buffers.bytes), (u64::MAX, u64::MAX), "{arena:?}");
    assert!(report.netty.iter().any(|a| a.adaptive.as_ref().is_some_and(|p| p.chunk_bytes == i64::MAX as u64)));
}

/// A small xorshift: the same mutations on every run, no dependency.
struct Mutations(u64);

impl Mutations {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Where each top-level record's length field is, from the header on.
    fn length_fields(bytes: &[u8]) -> Vec<usize> {
        let mut at = bytes.iter().position(|&b| b == 0).map_or(bytes.len(), |nul| nul + 13);
        let mut fields = Vec::new();
        while at + 9 <= bytes.len() {
            fields.push(at + 5);
            let len = u32::from_be_bytes(bytes[at + 5..at + 9].try_into().unwrap()) as usize;
            at += 9 + len;
        }
        fields
    }

    /// One mutation of `base`, and what it was.
    fn mutate(&mut self, base: &[u8]) -> (Vec<u8>, String) {
        let mut bytes = base.to_vec();
        let at = self.below(bytes.len());
        let what = match self.below(5) {
            0 => {
                let bit = self.below(8);
                bytes[at] ^= 1 << bit;
                format!("bit {bit} of byte {at} flipped")
            }
            1 | 2 => {
                let fields = Self::length_fields(&bytes);
                let field = fields[self.below(fields.len())];
                let value: u32 = if self.below(2) == 0 { 0 } else { u32::MAX };
                bytes[field..field + 4].copy_from_slice(&value.to_be_bytes());
                format!("record length at {field} set to {value:#x}")
            }
            3 => {
                let end = (at + 4).min(bytes.len());
                bytes[at..end].fill(0xff);
                format!("bytes {at}..{end} set to 0xff")
            }
            _ => {
                bytes.truncate(at);
                format!("cut at {at}")
            }
        };
        (bytes, what)
    }
}

#[test]
fn mutated_dumps_end_in_a_report_or_an_error() {
    let mut bases = vec![
        ("list", samples::linked_list(50)),
        ("hostile", samples::hostile_names().0),
        ("absurd", samples::absurd_counters()),
        ("absurd-netty", samples::absurd_netty_pool()),
        ("cycle", samples::class_cycle()),
    ];
    let real = dumpscan::hprof::Dump::open(Path::new(&super::fixture("netty-pooled-jdk17.hprof.gz"))).unwrap();
    bases.push(("netty-pooled-jdk17", real.bytes().to_vec()));
    let mut rng = Mutations(0x9e37_79b9_7f4a_7c15);
    let mut ended = [0usize; 2];
    for (name, base) in &bases {
        // The real dump takes a second a run: fewer of it.
        let runs = if base.len() > 1 << 20 { 8 } else { 100 };
        for _ in 0..runs {
            let (bytes, what) = rng.mutate(base);
            let result = std::panic::catch_unwind(|| {
                let dump = dumpscan::hprof::Dump::from_vec(bytes).map_err(|e| e.to_string())?;
                dumpscan_cli::render_all(
                    &dump,
                    Some("failed to allocate 16777216 byte(s) of direct memory (used: 1, max: 2)"),
                    &mut std::io::sink(),
                )
            });
            match result {
                Ok(Ok(())) => ended[0] += 1,
                Ok(Err(message)) => {
                    assert!(!message.is_empty() && !message.contains('\n'), "{name}, {what}: {message:?}");
                    ended[1] += 1;
                }
                Err(_) => panic!("{name}, {what}: a panic"),
            }
        }
    }
    assert!(ended[0] > 0 && ended[1] > 0, "reports and errors both: {ended:?}");
}

#[test]
fn a_timestamp_past_the_year_9999_is_unknown_not_a_panic() {
    // Found by the `analyze` fuzz target: the time in the header has no RFC 3339 spelling.
    let mut bytes = samples::linked_list(3);
    let nul = bytes.iter().position(|&b| b == 0).unwrap();
    bytes[nul + 5..nul + 13].fill(0xff);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.hprof");
    std::fs::write(&path, &bytes).unwrap();
    let dump = path.to_str().unwrap();
    for args in [&["info", dump][..], &["histogram", dump, "--format", "json"], &[dump], &[dump, "--format", "html"]] {
        let out = dumpscan(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let out = dumpscan(&["info", dump]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown"));
}
