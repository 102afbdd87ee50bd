//! `dumpscan capture PID -o DIR` and `dumpscan watch PID ... -o DIR`: the dump taken from a
//! live JVM at the right moment, with what the dump cannot see beside it (NMT's summary, the
//! process's memory as Linux counts it, the VM's flags), and the report over all of them.
//!
//! The JVM is reached through its attach mechanism (`dumpscan_attach`), as `jcmd` does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dumpscan_attach::{AttachError, Jvm};
use dumpscan_offheap::native::{Nmt, ProcMemory};
use dumpscan_offheap::units::human_bytes;

use crate::{Failure, Log};

/// How long to wait for a JVM's attach listener to start.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// The files of one capture that the report reads (beside them, `VM.flags -all` is kept for
/// the reader); names say which is the heap dump (`hprof`) and which NMT's summary (`nmt`).
#[derive(Debug)]
pub(crate) struct Captured {
    /// The compressed heap dump.
    pub(crate) dump: PathBuf,
    /// `VM.native_memory summary`, when NMT is on in the JVM.
    pub(crate) nmt: Option<PathBuf>,
    /// `/proc/PID/status` and `/proc/PID/smaps_rollup` as they were before the dump.
    pub(crate) proc: Vec<PathBuf>,
}

/// The file names inside the capture's folder.
const HEAP_DUMP: &str = "heap.hprof.gz";
const HEAP_DUMP_PLAIN: &str = "heap.hprof";
const NMT_SUMMARY: &str = "nmt-summary.txt";
const VM_FLAGS: &str = "vm-flags.txt";
const PROC_STATUS: &str = "proc-status.txt";
const PROC_SMAPS_ROLLUP: &str = "proc-smaps_rollup.txt";
/// The report over the capture, beside it.
pub(crate) const REPORT: &str = "report.json";

/// What `GC.heap_dump` prints once the file is complete (JDK 11 to 25).
const DUMP_WRITTEN: &str = "Heap dump file created";

/// What NMT answers when the JVM was started without it.
const NMT_OFF: &str = "Native memory tracking is not enabled";

/// Finds the JVM, or says in one line why it cannot be asked.
pub(crate) fn find(pid: u32) -> Result<Jvm, Failure> {
    Jvm::find(pid).map_err(Failure::Attach)
}

/// Takes everything from the JVM into `dir` (created if missing; refused if it already holds
/// a capture), saying each step on stderr: the process is live, and the dump stops it.
pub(crate) fn capture(jvm: &Jvm, dir: &Path, log: &Log) -> Result<Captured, Failure> {
    let dir = prepare(dir)?;
    let pid = jvm.pid();
    let ask = |command: &str| jvm.jcmd(command, ATTACH_TIMEOUT).map_err(Failure::Attach);
    let save = |name: &str, text: &[u8]| -> Result<PathBuf, Failure> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|error| Failure::capture_file(&path, error))?;
        Ok(path)
    };
    log.say(&format!("capturing process {pid} ({}) into {}", jvm.exe().display(), dir.display()));

    // The process's memory first: the dump's pause and its garbage collection change it.
    let mut proc = Vec::new();
    for (source, name) in [("status", PROC_STATUS), ("smaps_rollup", PROC_SMAPS_ROLLUP)] {
        let from = PathBuf::from(format!("/proc/{pid}/{source}"));
        match std::fs::read(&from) {
            Ok(text) => proc.push(save(name, &text)?),
            Err(e) => log.say(&format!("warning: cannot read {}: {e}", from.display())),
        }
    }
    let flags = save(VM_FLAGS, ask("VM.flags -all")?.as_bytes())?;
    let summary = ask("VM.native_memory summary")?;
    let nmt = if summary.contains(NMT_OFF) {
        log.say(
            "native memory tracking is off in this JVM: the report has no NMT figures. Start it with \
             -XX:NativeMemoryTracking=summary (5-10% more CPU and a little memory) to see them next time",
        );
        None
    } else {
        let path = save(NMT_SUMMARY, summary.as_bytes())?;
        log.say(&format!("saved NMT's summary ({})", path.display()));
        Some(path)
    };

    let heap = std::fs::read_to_string(flags.as_path())
        .ok()
        .and_then(|text| flag_value(&text, "MaxHeapSize"))
        .map(|max| format!(" (its heap may grow to {})", human_bytes(max)))
        .unwrap_or_default();
    log.say(&format!(
        "writing the heap dump: the JVM stops while its whole heap is written, seconds per GiB in use{heap}"
    ));
    let dump = heap_dump(jvm, &dir, log)?;
    log.say(&format!(
        "heap dump written: {} ({})",
        dump.display(),
        std::fs::metadata(&dump).map(|m| human_bytes(m.len())).unwrap_or_default()
    ));
    Ok(Captured { dump, nmt, proc })
}

/// `dir`, created, absolute (the JVM resolves paths against its own working directory), and
/// holding no earlier capture.
fn prepare(dir: &Path) -> Result<PathBuf, Failure> {
    std::fs::create_dir_all(dir).map_err(|error| Failure::capture_file(dir, error))?;
    let dir = dir.canonicalize().map_err(|error| Failure::capture_file(dir, error))?;
    for name in [HEAP_DUMP, HEAP_DUMP_PLAIN, REPORT] {
        let path = dir.join(name);
        if path.exists() {
            let error = std::io::Error::new(std::io::ErrorKind::AlreadyExists, "holds an earlier capture");
            return Err(Failure::capture_file(&path, error));
        }
    }
    Ok(dir)
}

/// Asks the JVM for a compressed dump of every object, unreachable ones included (`-all`: a
/// buffer that is garbage but not yet freed still holds its native memory, and a dump of live
/// objects would first run a full collection that changes what the report is about), and
/// moves it into `dir`.
///
/// The JVM writes the file itself, as its own user and inside its own file system. So it
/// writes into a folder it can write to: `dir` when it shares this process's files and user;
/// a folder inside `dir` given to its user when this process is root; its own `/tmp` when it
/// runs in another mount namespace (a container), from where the file is moved out through
/// `/proc/PID/root`.
fn heap_dump(jvm: &Jvm, dir: &Path, log: &Log) -> Result<PathBuf, Failure> {
    let pid = jvm.pid();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let (uid, gid) = jvm.owner();
    let staging = if !jvm.shares_files() {
        Staging::InsideJvm { inside: PathBuf::from("/tmp"), outside: jvm.root().join("tmp") }
    } else if me == uid {
        Staging::Direct
    } else {
        let folder = dir.join(format!(".dumpscan-{pid}"));
        std::fs::create_dir_all(&folder).map_err(|error| Failure::capture_file(&folder, error))?;
        std::os::unix::fs::chown(&folder, Some(uid), Some(gid))
            .map_err(|error| Failure::capture_file(&folder, error))?;
        Staging::Given(folder)
    };
    let result = ask_for_dump(jvm, &staging, dir, pid, log);
    if let Staging::Given(folder) = &staging {
        let _ = std::fs::remove_dir_all(folder);
    }
    result
}

/// Where the JVM writes the dump before it is in the capture's folder.
enum Staging {
    /// Straight into the capture's folder.
    Direct,
    /// Into a folder inside the capture's folder, owned by the JVM's user.
    Given(PathBuf),
    /// Into the JVM's own temporary folder: `inside` as it knows it, `outside` as seen here.
    InsideJvm { inside: PathBuf, outside: PathBuf },
}

fn ask_for_dump(jvm: &Jvm, staging: &Staging, dir: &Path, pid: u32, log: &Log) -> Result<PathBuf, Failure> {
    let unique = format!("dumpscan-{pid}-{}", std::process::id());
    for (options, name) in [("-all -gz=1", HEAP_DUMP), ("-all", HEAP_DUMP_PLAIN)] {
        let (for_jvm, written) = match staging {
            Staging::Direct => (dir.join(name), dir.join(name)),
            Staging::Given(folder) => (folder.join(name), folder.join(name)),
            Staging::InsideJvm { inside, outside } => {
                let file = format!("{unique}-{name}");
                (inside.join(&file), outside.join(&file))
            }
        };
        let command = format!("GC.heap_dump {options} {}", for_jvm.display());
        match jvm.jcmd(&command, ATTACH_TIMEOUT) {
            // JDK 11 to 14 know no -gz: a plain dump then.
            Err(AttachError::Refused { message, .. }) if message.contains("gz") && options.contains("gz") => {
                log.say("this JVM cannot compress its dump (-gz is JDK 15 and later): writing it plain");
                continue;
            }
            Err(e) => return Err(Failure::Attach(e)),
            Ok(said) => {
                // The command's status is 0 even when the file could not be written; what it
                // printed says whether it was.
                if !said.contains(DUMP_WRITTEN) || !written.is_file() {
                    return Err(Failure::Capture(format!(
                        "the JVM wrote no heap dump at {}: {}",
                        for_jvm.display(),
                        said.trim()
                    )));
                }
                let target = dir.join(name);
                if written != target {
                    move_file(&written, &target)?;
                }
                return Ok(target);
            }
        }
    }
    Err(Failure::Capture("the JVM refused every form of GC.heap_dump".to_string()))
}

/// Renames, or copies and removes when the two lie on different file systems (a container's
/// `/tmp`).
fn move_file(from: &Path, to: &Path) -> Result<(), Failure> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map_err(|error| Failure::capture_file(to, error))?;
    std::fs::remove_file(from).map_err(|error| Failure::capture_file(from, error))
}

/// A size flag's value in `VM.flags -all` output (`size_t MaxHeapSize = 4294967296 {product}
/// {ergonomic}`) or in its short form (`-XX:MaxHeapSize=4294967296`).
pub(crate) fn flag_value(flags: &str, name: &str) -> Option<u64> {
    let short = format!("-XX:{name}=");
    flags.split_whitespace().find_map(|word| word.strip_prefix(&short)).and_then(|v| v.parse().ok()).or_else(|| {
        flags.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            let (_, flag, equals, value) = (words.next()?, words.next()?, words.next()?, words.next()?);
            (flag == name && equals == "=").then(|| value.parse().ok()).flatten()
        })
    })
}

/// What `watch` compares with its threshold.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Threshold {
    /// NMT's "Other" committed, against this share (0 to 1) of the direct memory limit.
    Direct(f64),
    /// The process's resident memory, against this many bytes.
    Rss(u64),
}

/// The signal `watch` reads and the level at which it captures.
struct Signal {
    threshold: Threshold,
    /// The bytes at which to capture.
    level: u64,
}

impl Signal {
    /// Works out the level: for direct memory, the JDK's limit (`MaxDirectMemorySize`, or the
    /// heap's maximum when it is 0, as the JDK defaults it); NMT must be on to read "Other".
    fn new(jvm: &Jvm, threshold: Threshold, log: &Log) -> Result<Signal, Failure> {
        let level = match threshold {
            Threshold::Rss(bytes) => {
                log.say(&format!("watching process {}: its RSS against {}", jvm.pid(), human_bytes(bytes)));
                bytes
            }
            Threshold::Direct(share) => {
                let summary = jvm.jcmd("VM.native_memory summary", ATTACH_TIMEOUT).map_err(Failure::Attach)?;
                if summary.contains(NMT_OFF) {
                    return Err(Failure::Capture(format!(
                        "--direct-above reads NMT's \"Other\", and native memory tracking is off in process {}: \
                         start the JVM with -XX:NativeMemoryTracking=summary, or watch --rss-above",
                        jvm.pid()
                    )));
                }
                let flags = jvm.jcmd("VM.flags -all", ATTACH_TIMEOUT).map_err(Failure::Attach)?;
                let (limit, from) = match flag_value(&flags, "MaxDirectMemorySize") {
                    Some(limit) if limit > 0 => (limit, "-XX:MaxDirectMemorySize"),
                    _ => (flag_value(&flags, "MaxHeapSize").unwrap_or(0), "the heap's maximum, the JDK's default"),
                };
                if limit == 0 {
                    return Err(Failure::Capture("the JVM's flags name no direct memory limit".to_string()));
                }
                let level = (limit as f64 * share) as u64;
                log.say(&format!(
                    "watching process {}: NMT's \"Other\" against {} of {} ({from}), that is {}",
                    jvm.pid(),
                    dumpscan_offheap::units::percent(level, limit),
                    human_bytes(limit),
                    human_bytes(level)
                ));
                level
            }
        };
        Ok(Signal { threshold, level })
    }

    /// The bytes now; `None` once the process is gone.
    fn read(&self, jvm: &Jvm) -> Result<Option<u64>, Failure> {
        let alive = || Path::new(&format!("/proc/{}", jvm.pid())).exists();
        match self.threshold {
            Threshold::Rss(_) => {
                let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", jvm.pid())) else {
                    return Ok(None);
                };
                Ok(ProcMemory::parse_status(&status).ok().and_then(|m| m.rss))
            }
            Threshold::Direct(_) => match jvm.jcmd("VM.native_memory summary", ATTACH_TIMEOUT) {
                Ok(text) => {
                    let nmt = Nmt::parse(&text).map_err(Failure::NmtSummary)?;
                    Ok(Some(nmt.committed("Other").unwrap_or(0)))
                }
                Err(_) if !alive() => Ok(None),
                Err(e) => Err(Failure::Attach(e)),
            },
        }
    }
}

/// Polls every `interval` and captures when the signal reaches its level: once, or with
/// `repeat` each time it reaches it again after falling a tenth below. `on_capture` makes
/// the report of each capture. Ends with an error when the process ends first.
pub(crate) fn watch(
    jvm: &Jvm,
    threshold: Threshold,
    interval: Duration,
    repeat: bool,
    dir: &Path,
    log: &Log,
    mut on_capture: impl FnMut(&Captured, &Path) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let signal = Signal::new(jvm, threshold, log)?;
    let rearm = signal.level - signal.level / 10;
    let mut armed = true;
    let mut captures = 0u32;
    loop {
        let Some(now) = signal.read(jvm)? else {
            return Err(Failure::Capture(match captures {
                0 => format!("process {} ended before the threshold was reached", jvm.pid()),
                n => format!("process {} ended (after {n} captures)", jvm.pid()),
            }));
        };
        log.phase(&format!("read {}", human_bytes(now)));
        if armed && now >= signal.level {
            log.say(&format!("{} reached {}: capturing", human_bytes(now), human_bytes(signal.level)));
            captures += 1;
            let target = match repeat {
                true => dir.join(format!("capture-{captures}")),
                false => dir.to_path_buf(),
            };
            let captured = capture(jvm, &target, log)?;
            on_capture(&captured, &target)?;
            if !repeat {
                return Ok(());
            }
            armed = false;
        } else if !armed && now < rearm {
            armed = true;
        }
        std::thread::sleep(interval);
    }
}

/// `80` or `80%`: a share of a limit, above 0 and at most 100.
pub(crate) fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    match number.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p / 100.0),
        Ok(_) => Err("a percentage above 0 and at most 100".to_string()),
        Err(_) => Err(format!("not a percentage: {text}")),
    }
}

/// A size with its unit, binary or decimal (`6GiB`, `6G`, `5000MB`, `512m`); a plain number is
/// bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    parse_size::Config::new().with_binary().parse_size(text).map_err(|e| format!("not a size: {text} ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_in_both_forms() {
        let all = "     size_t MaxHeapSize                              = 4294967296                                {product} {ergonomic}\n\
                   uint64_t MaxDirectMemorySize                      = 0                                         {product} {default}\n";
        assert_eq!(flag_value(all, "MaxHeapSize"), Some(4294967296));
        assert_eq!(flag_value(all, "MaxDirectMemorySize"), Some(0));
        assert_eq!(flag_value(all, "MaxHeap"), None);
        let short = "-XX:CICompilerCount=2 -XX:MaxDirectMemorySize=67108864 -XX:MaxHeapSize=268435456";
        assert_eq!(flag_value(short, "MaxDirectMemorySize"), Some(67108864));
    }

    #[test]
    fn thresholds_read_as_a_user_writes_them() {
        assert_eq!(parse_percent("80"), Ok(0.8));
        assert_eq!(parse_percent("12.5%"), Ok(0.125));
        assert!(parse_percent("0").is_err() && parse_percent("120").is_err() && parse_percent("lots").is_err());
        assert_eq!(parse_size("6GiB"), Ok(6 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("six gigs").is_err());
    }
}
