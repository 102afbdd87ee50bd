//! The `dumpscan` command line: argument parsing, the subcommands, and their renderers.

#![warn(missing_docs)]

mod capture;
mod diff;
mod dump_json;
mod escape;
mod graph;
mod histogram;
mod info;
mod inspect;
mod report;
mod table;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use dumpscan_attach::AttachError;
use dumpscan_heap::{Dominators, Heap};
use dumpscan_hprof::{Dump, ErrorKind, FileKind, Metadata};

/// Exit status when the file cannot be read or output cannot be written.
pub const EXIT_IO: i32 = 1;
/// Exit status when the input is not a readable HPROF dump.
pub const EXIT_BAD_DUMP: i32 = 3;
/// Exit status when the object or class asked about is not in the dump.
pub const EXIT_NOT_FOUND: i32 = 4;
/// Exit status with `--strict` when the dump is cut short (after the output is written).
pub const EXIT_TRUNCATED: i32 = 5;

/// The dump operand that means standard input.
const STDIN: &str = "-";

const EXAMPLES: &str = "\
Examples:
  dumpscan heap.hprof.gz                          who holds the off-heap memory (report)
  dumpscan heap.hprof --format markdown -o incident.md
  kubectl exec pod -- cat /tmp/heap.hprof.gz | dumpscan -
  dumpscan histogram heap.hprof --top 20
  dumpscan paths heap.hprof --class java.nio.DirectByteBuffer --top 5
  dumpscan inspect heap.hprof --id 0xfc7a16d0
  dumpscan completions bash > ~/.local/share/bash-completion/completions/dumpscan
  dumpscan man > ~/.local/share/man/man1/dumpscan.1

DUMP is a .hprof file, plain or gzip (jcmd GC.heap_dump -gz=N, or gzip), or - for standard input.

Exit status: 0 success (a dump cut short too, with a warning), 1 the file cannot be read or
the output written, 2 bad command line, 3 not an HPROF dump or malformed, 4 the object or
class is not in the dump, 5 the dump is cut short and --strict was given.";

#[derive(Parser, Debug)]
#[command(
    name = "dumpscan",
    version,
    about = "Who holds a JVM's memory: reads HPROF heap dumps (plain or gzip)",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Say on stderr what each phase took.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Exit with status 5 when the dump is cut short (after writing what it holds), rather
    /// than 0 with a warning.
    #[arg(long, global = true)]
    strict: bool,
    /// The memory the analysis may use (`8GiB`, `900M`): past a quarter of it, the model's
    /// large arrays are backed by files in --temp-dir and paged through the disk. By default,
    /// what the process is allowed: its control group's memory limit, else three quarters of
    /// physical memory.
    #[arg(long, global = true, value_name = "SIZE", value_parser = capture::parse_size)]
    max_memory: Option<u64>,
    /// The folder for those files (unlinked: nothing is left behind). By default $TMPDIR or
    /// /tmp, or /var/tmp when /tmp is held in memory.
    #[arg(long, global = true, value_name = "DIR")]
    temp_dir: Option<PathBuf>,
}

/// Messages for stderr: always the ones a user must see, phase timings with --verbose.
struct Log {
    verbose: bool,
    start: std::time::Instant,
}

impl Log {
    fn say(&self, message: &str) {
        eprintln!("dumpscan: {message}");
    }

    fn phase(&self, message: &str) {
        if self.verbose {
            let memory = allocated_bytes().map(|b| format!(", {}", dumpscan_offheap::units::human_bytes(b)));
            eprintln!(
                "dumpscan: [{:6.2}s{}] {message}",
                self.start.elapsed().as_secs_f64(),
                memory.unwrap_or_default()
            );
        }
    }
}

/// Memory the process has allocated (resident, not counting the mapped dump), where the
/// system says (Linux: `RssAnon` in /proc/self/status).
fn allocated_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Who holds the off-heap memory: counters, direct buffers, Netty pools, retainers and
    /// findings. The default command: `dumpscan DUMP` is `dumpscan report DUMP`.
    #[command(after_help = "\
Examples:
  dumpscan heap.hprof.gz
  dumpscan report heap.hprof --no-dominators --top 0
  dumpscan heap.hprof --format json -o report.json
  dumpscan heap.hprof --error 'failed to allocate 16777216 byte(s) of direct memory (used: 50331648, max: 67108864)'
  dumpscan heap.hprof.gz --nmt nmt.txt --proc status smaps_rollup")]
    Report {
        /// The heap dump (.hprof, or .hprof.gz as written by `jcmd GC.heap_dump -gz=N` or
        /// gzip), or - to read it from standard input.
        dump: PathBuf,
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        /// Write the report to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The out-of-memory message the process died with, to decode against the dump's
        /// counters: Netty's `failed to allocate N byte(s) of direct memory (used: U, max: M)`
        /// or the JDK's `Cannot reserve N bytes of direct buffer memory (allocated: A, limit: L)`.
        #[arg(long, value_name = "MESSAGE")]
        error: Option<String>,
        /// Rows in each table (retainers, dominators, largest buffers); 0 shows all. JSON
        /// always has every retainer.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Skip the dominator tree (the slowest step on a big dump) and its table.
        #[arg(long)]
        no_dominators: bool,
        /// Allow data from the dump in the report (peers' host names). Without it, only
        /// class, field and thread names and numbers are printed.
        #[arg(long)]
        show_values: bool,
        /// Print whole paths in tables, and ignore the terminal's width (by default tables fit
        /// the terminal or $COLUMNS, and paths in them are shortened; JSON always has them whole).
        #[arg(long)]
        wide: bool,
        /// The saved output of `jcmd PID VM.native_memory summary` (or `detail`, or
        /// `summary.diff`; JDK 11 to 25, any scale=) of the same process, taken with the dump:
        /// adds the native memory section, NMT's categories reconciled with the dump's counters.
        #[arg(long, value_name = "FILE")]
        nmt: Option<PathBuf>,
        /// Saved copies of /proc/PID/status, /proc/PID/smaps_rollup or /proc/PID/smaps (one or
        /// more, after the dump): the process's RSS, broken down against NMT and the dump.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        proc: Vec<PathBuf>,
    },
    /// What changed in the off-heap memory between two dumps of one process: counters, direct
    /// buffers, Netty pools, client connections and every retainer, old and new, largest change
    /// first, with findings on what grew. Each side is a dump or a report saved with
    /// `--format json`; two dumps are analysed one after the other, never held together.
    #[command(after_help = "\
Examples:
  dumpscan diff monday.hprof.gz tuesday.hprof.gz
  dumpscan diff last-week.json heap.hprof --format markdown -o incident.md
  dumpscan diff old.hprof new.hprof --format json --top 0")]
    Diff {
        /// The older side: a heap dump (.hprof or .hprof.gz), - for standard input, or a report
        /// saved with `dumpscan DUMP --format json`.
        old: PathBuf,
        /// The newer side, the same way.
        new: PathBuf,
        #[arg(long, value_enum, default_value_t = diff::DiffFormat::Table)]
        format: diff::DiffFormat,
        /// Write the diff to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Rows in the retainers' and connections' tables; 0 shows all. JSON always has every
        /// retainer.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Print whole paths in tables, and ignore the terminal's width.
        #[arg(long)]
        wide: bool,
    },
    /// Takes a heap dump of a live JVM now, with what the dump cannot see beside it (NMT's
    /// summary when NMT is on, /proc's status and smaps_rollup, the VM's flags), and writes
    /// the report over all of them to DIR/report.json and the terminal. The JVM stops while
    /// its heap is written. Steps are said on stderr.
    #[command(after_help = "\
Examples:
  dumpscan capture 4242 -o /var/tmp/incident-1234
  sudo dumpscan capture \"$(pgrep -f my-service.jar)\" -o /var/tmp/capture")]
    Capture {
        /// The JVM's process id.
        pid: u32,
        /// The folder for the capture (created; refused if it holds one already).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        #[command(flatten)]
        report: CaptureReport,
    },
    /// Watches a live JVM and captures once (as `capture` does) when its direct memory or its
    /// RSS crosses a threshold: before the allocation that would fail, not after. Reads NMT's
    /// "Other" (where direct buffers are allocated) against the direct memory limit, or the
    /// process's RSS, every --interval.
    #[command(
        after_help = "\
Examples:
  dumpscan watch 4242 --direct-above 80 -o /var/tmp/direct
  dumpscan watch 4242 --rss-above 6GiB --interval 5s -o /var/tmp/rss --repeat",
        group(clap::ArgGroup::new("threshold").required(true).args(["direct_above", "rss_above"]))
    )]
    Watch {
        /// The JVM's process id.
        pid: u32,
        /// Capture when NMT's "Other" reaches this share of the direct memory limit
        /// (-XX:MaxDirectMemorySize, else the heap's maximum, as the JDK does): `80` or `80%`.
        /// Needs NMT on in the JVM (-XX:NativeMemoryTracking=summary).
        #[arg(long, value_name = "PERCENT", value_parser = capture::parse_percent)]
        direct_above: Option<f64>,
        /// Capture when the process's resident memory reaches this size: `6GiB`, `5000M`.
        #[arg(long, value_name = "SIZE", value_parser = capture::parse_size)]
        rss_above: Option<u64>,
        /// How often to look: `1s`, `500ms`, `1m`.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
        interval: std::time::Duration,
        /// Keep watching after a capture, and capture again each time the threshold is crossed
        /// anew (after falling a tenth below it), into DIR/capture-1, DIR/capture-2, ...
        #[arg(long)]
        repeat: bool,
        /// The folder for the capture (created; refused if it holds one already).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        #[command(flatten)]
        report: CaptureReport,
    },
    /// Format, id size, dump time, record and sub-record counts, GC roots, threads and their stacks.
    #[command(
        after_help = "Examples:\n  dumpscan info heap.hprof --no-threads\n  dumpscan info heap.hprof.gz --format json"
    )]
    Info {
        /// The heap dump (.hprof or .hprof.gz), or - for standard input.
        dump: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Do not list thread stacks (tables only).
        #[arg(long)]
        no_threads: bool,
    },
    /// Instances and shallow bytes per class, largest first.
    #[command(
        after_help = "Examples:\n  dumpscan histogram heap.hprof --top 20\n  dumpscan histogram heap.hprof --retained --format json"
    )]
    Histogram {
        /// The heap dump (.hprof or .hprof.gz), or - for standard input.
        dump: PathBuf,
        /// How many classes to show; 0 shows all.
        #[arg(long, default_value_t = 30)]
        top: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Whether the JVM used 4-byte compressed references; `auto` decides from the span of
        /// object addresses (under 32 GiB: compressed), which matches HotSpot's default.
        #[arg(long, value_enum, default_value_t = CompressedOops::Auto)]
        compressed_oops: CompressedOops,
        /// Add each class's retained bytes: what freeing all its instances would free
        /// (builds the object graph and dominator tree: slower).
        #[arg(long)]
        retained: bool,
    },
    /// Shortest paths from GC roots to objects: who keeps them alive. A path longer than the
    /// terminal (or $COLUMNS) is printed one step a line.
    #[command(
        after_help = "Examples:\n  dumpscan paths heap.hprof --id 0xfc7a16d0\n  dumpscan paths heap.hprof --class java.nio.DirectByteBuffer --top 0"
    )]
    Paths {
        /// The heap dump (.hprof or .hprof.gz), or - for standard input.
        dump: PathBuf,
        /// The object id, as `info`, `dominators` and JSON output print it (0x...).
        #[arg(long, value_parser = parse_id, conflicts_with = "class", required_unless_present = "class")]
        id: Option<u64>,
        /// Every instance of this class (Java name, e.g. `java.nio.DirectByteBuffer`), largest first.
        #[arg(long)]
        class: Option<String>,
        /// How many objects to show; 0 shows all.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// With --class, every step of every path (output grows with objects times the
        /// deepest path); by default they are shortened as in the report's tables. --id always
        /// prints the whole path.
        #[arg(long)]
        wide: bool,
    },
    /// The objects that keep the most heap alive (retained size, from the dominator tree).
    #[command(
        after_help = "Examples:\n  dumpscan dominators heap.hprof --top 10\n  dumpscan dominators heap.hprof --format json"
    )]
    Dominators {
        /// The heap dump (.hprof or .hprof.gz), or - for standard input.
        dump: PathBuf,
        /// How many objects to show; 0 shows all.
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One object: its class, size, reachability, fields with their values, referrers, and
    /// its shortest path from a GC root. Strings and primitive arrays keep their contents
    /// hidden unless --show-values is given.
    #[command(
        after_help = "Examples:\n  dumpscan inspect heap.hprof --id 0xfc7a16d0\n  dumpscan inspect heap.hprof --id 0xfc7a16d0 --show-values --top 50 --format json"
    )]
    Inspect {
        /// The heap dump (.hprof or .hprof.gz), or - for standard input.
        dump: PathBuf,
        /// The object id, as `paths`, `dominators` and JSON output print it (0x...).
        #[arg(long, value_parser = parse_id)]
        id: u64,
        /// How many array elements and referrers to list; 0 lists all.
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Print the contents of strings and primitive arrays (data from the dump). Without
        /// it, only their lengths are printed.
        #[arg(long)]
        show_values: bool,
    },
    /// A completion script for a shell, on stdout.
    #[command(after_help = "\
Install:
  bash:        dumpscan completions bash > ~/.local/share/bash-completion/completions/dumpscan
  zsh:         dumpscan completions zsh > ~/.zfunc/_dumpscan   (with fpath+=~/.zfunc before compinit)
  fish:        dumpscan completions fish > ~/.config/fish/completions/dumpscan.fish
  PowerShell:  dumpscan completions powershell >> $PROFILE")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page (roff), on stdout: dumpscan(1), or a command's own page.
    #[command(after_help = "\
Install:
  dumpscan man > ~/.local/share/man/man1/dumpscan.1
  dumpscan man paths > ~/.local/share/man/man1/dumpscan-paths.1
Read without installing: dumpscan man | man -l -")]
    Man {
        /// A command whose page to print (dumpscan-COMMAND(1)) instead of dumpscan(1).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(["report", "diff", "info", "histogram", "paths", "dominators", "inspect"]))]
        command: Option<String>,
    },
}

impl Command {
    /// The dump the command reads, if it reads one.
    fn dump(&self) -> Option<&Path> {
        match self {
            Command::Report { dump, .. }
            | Command::Info { dump, .. }
            | Command::Histogram { dump, .. }
            | Command::Paths { dump, .. }
            | Command::Dominators { dump, .. }
            | Command::Inspect { dump, .. } => Some(dump),
            Command::Diff { .. }
            | Command::Capture { .. }
            | Command::Watch { .. }
            | Command::Completions { .. }
            | Command::Man { .. } => None,
        }
    }
}

/// How `capture` and `watch` print the report over what they captured.
#[derive(clap::Args, Debug)]
struct CaptureReport {
    /// Rows in each table of the printed report; 0 shows all. DIR/report.json has every one.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Skip the dominator tree in the report (the slowest step on a big dump).
    #[arg(long)]
    no_dominators: bool,
    /// Print whole paths in tables, and ignore the terminal's width.
    #[arg(long)]
    wide: bool,
}

/// Parses an object id written in hex (`0x7f00`) or decimal.
fn parse_id(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("not an object id: {e}"))
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportFormat {
    Table,
    Json,
    Markdown,
    Html,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CompressedOops {
    Auto,
    On,
    Off,
}

impl CompressedOops {
    fn choice(self) -> Option<bool> {
        match self {
            CompressedOops::Auto => None,
            CompressedOops::On => Some(true),
            CompressedOops::Off => Some(false),
        }
    }
}

/// Why a command failed. Each kind has its exit status and its one-line message; the error
/// it wraps, if any, is its source. What it says names no file: [`Failure::message`] puts
/// the dump's name in front where the failure is about the dump.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The dump cannot be read, or is not a well-formed dump.
    #[error("{}", dump_error(.0))]
    Dump(#[source] dumpscan_hprof::Error),
    /// `-` was given while standard input is a terminal: nothing is being piped in.
    #[error("standard input is a terminal: pipe a dump into `dumpscan -` (plain or gzip)")]
    StdinIsTerminal,
    /// The object or class asked about is not in the dump.
    #[error("{0}")]
    NotFound(String),
    /// The output cannot be created or written.
    #[error("{target}: {error}")]
    Output {
        target: OutputTarget,
        #[source]
        error: std::io::Error,
    },
    /// The dump is cut short and `--strict` was given (the output was still written).
    #[error("the dump is cut short (--strict)")]
    Truncated,
    /// A JSON file given as a side of `diff` cannot be read.
    #[error("{0}")]
    SavedReportUnreadable(#[source] std::io::Error),
    /// A JSON file given as a side of `diff` is not a saved report.
    #[error("not a dumpscan.report.v1 report: {0}")]
    NotAReport(#[source] serde_json::Error),
    /// A failure about one side of `diff`, named by its path.
    #[error("{}: {failure}", path.display())]
    Side {
        path: PathBuf,
        #[source]
        failure: Box<Failure>,
    },
    /// The child analysing a side of `diff` could not be waited for.
    #[error("the analysis ended without a report ({0})")]
    AnalysisUnwaited(#[source] std::io::Error),
    /// The child analysing a side of `diff` ended without a report, and without saying why
    /// (killed by a signal, or its output unreadable).
    #[error(
        "the analysis ended without a report ({status}{})",
        report.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
    )]
    Analysis {
        status: std::process::ExitStatus,
        /// Why its output is no report, when it is not.
        #[source]
        report: Option<serde_json::Error>,
    },
    /// A child process already said why it failed, on the shared stderr; its exit status.
    #[error("the analysis failed (exit status {0})")]
    Reported(i32),
    /// A file given with `--nmt` or `--proc` cannot be read.
    #[error("{}: {error}", path.display())]
    NativeUnreadable {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// A file given with `--nmt` or `--proc` is not what it should be.
    #[error("{}: {error}", path.display())]
    NativeMalformed {
        path: PathBuf,
        #[source]
        error: dumpscan_offheap::native::NativeError,
    },
    /// A live JVM could not be asked (`capture`, `watch`).
    #[error("{0}")]
    Attach(#[source] AttachError),
    /// NMT's summary, asked of a live JVM (`watch --direct-above`), cannot be read.
    #[error("NMT's summary: {0}")]
    NmtSummary(#[source] dumpscan_offheap::native::NativeError),
    /// A capture's file could not be written or moved.
    #[error("{}: {error}", path.display())]
    CaptureFile {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// A capture or a watch could not go on.
    #[error("{0}")]
    Capture(String),
    /// The folder for arrays past the memory budget cannot hold a temporary file.
    #[error("--temp-dir {}: cannot make a temporary file: {error}", path.display())]
    TempDir {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

/// What a dump's error says: the kind alone where the offset says nothing (the file cannot
/// be opened, or is no dump at all).
fn dump_error(e: &dumpscan_hprof::Error) -> String {
    match &e.kind {
        ErrorKind::Io(_) | ErrorKind::NotHprof | ErrorKind::NotAFile(_) => e.kind.to_string(),
        _ => e.to_string(),
    }
}

impl Failure {
    fn capture_file(path: &Path, error: std::io::Error) -> Failure {
        Failure::CaptureFile { path: path.to_path_buf(), error }
    }
}

/// Where output goes, for messages about it.
#[derive(Debug)]
enum OutputTarget {
    Stdout,
    Create(PathBuf),
    Write(PathBuf),
}

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputTarget::Stdout => f.write_str("cannot write the output"),
            OutputTarget::Create(path) => write!(f, "cannot create {}", path.display()),
            OutputTarget::Write(path) => write!(f, "cannot write {}", path.display()),
        }
    }
}

impl Failure {
    fn status(&self) -> i32 {
        match self {
            Failure::Dump(e) => match e.kind {
                ErrorKind::Io(_) | ErrorKind::NotAFile(_) => EXIT_IO,
                _ => EXIT_BAD_DUMP,
            },
            Failure::StdinIsTerminal | Failure::Output { .. } => EXIT_IO,
            Failure::NotFound(_) => EXIT_NOT_FOUND,
            Failure::Truncated => EXIT_TRUNCATED,
            Failure::SavedReportUnreadable(_) | Failure::NotAReport(_) => EXIT_BAD_DUMP,
            Failure::Side { failure, .. } => failure.status(),
            Failure::AnalysisUnwaited(_) | Failure::Analysis { .. } => EXIT_IO,
            Failure::Reported(status) => *status,
            Failure::NativeUnreadable { .. } => EXIT_IO,
            Failure::NativeMalformed { .. } => EXIT_BAD_DUMP,
            Failure::Attach(AttachError::NoProcess(_) | AttachError::NotAJvm { .. }) => EXIT_NOT_FOUND,
            Failure::Attach(_)
            | Failure::NmtSummary(_)
            | Failure::CaptureFile { .. }
            | Failure::Capture(_)
            | Failure::TempDir { .. } => EXIT_IO,
        }
    }

    /// The message for stderr, about `dump` (as the user named it) where it concerns the dump.
    fn message(&self, dump: &str) -> String {
        match self {
            Failure::Dump(e)
                if matches!(e.kind, ErrorKind::NotAFile(FileKind::Fifo | FileKind::Socket | FileKind::CharDevice)) =>
            {
                format!("{dump}: {} (to read a stream, give - and pipe it in: dumpscan - < {dump})", e.kind)
            }
            Failure::Side { path, failure } if path == Path::new(STDIN) => failure.message("standard input"),
            Failure::Side { path, failure } => failure.message(&path.display().to_string()),
            Failure::Reported(_) => String::new(),
            Failure::Dump(_)
            | Failure::NotFound(_)
            | Failure::Truncated
            | Failure::SavedReportUnreadable(_)
            | Failure::NotAReport(_)
            | Failure::AnalysisUnwaited(_)
            | Failure::Analysis { .. } => format!("{dump}: {self}"),
            Failure::StdinIsTerminal
            | Failure::Output { .. }
            | Failure::NativeUnreadable { .. }
            | Failure::NativeMalformed { .. }
            | Failure::Attach(_)
            | Failure::NmtSummary(_)
            | Failure::CaptureFile { .. }
            | Failure::Capture(_)
            | Failure::TempDir { .. } => self.to_string(),
        }
    }

    /// A reader that went away (`dumpscan ... | head`) is a normal end, not a failure.
    fn is_closed_pipe(&self) -> bool {
        matches!(self, Failure::Output { error, .. } if error.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<dumpscan_hprof::Error> for Failure {
    fn from(e: dumpscan_hprof::Error) -> Self {
        Failure::Dump(e)
    }
}

/// Renderers write to stdout unless told otherwise.
impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Output { target: OutputTarget::Stdout, error }
    }
}

/// Runs the command line and returns the process exit status.
pub fn run() -> i32 {
    let cli = Cli::parse_from(with_default_command(std::env::args_os().collect()));
    let dump = match cli.command.dump() {
        Some(path) if path == Path::new(STDIN) => "standard input".to_string(),
        Some(path) => path.display().to_string(),
        None => String::new(),
    };
    match execute(cli) {
        Ok(()) => 0,
        Err(f) if f.is_closed_pipe() => 0,
        Err(Failure::Reported(status)) => status,
        Err(f) => {
            eprintln!("dumpscan: {}", f.message(&dump));
            f.status()
        }
    }
}

/// `dumpscan DUMP [OPTIONS]` means `dumpscan report DUMP [OPTIONS]`: when the first operand
/// names no subcommand, `report` goes in front. Unless it looks like a mistyped one
/// (`reprot`): a word that is no existing path and resembles a subcommand's name as clap's
/// own suggestions measure it is left for clap, which says so and suggests the name.
fn with_default_command(mut args: Vec<OsString>) -> Vec<OsString> {
    let cli = Cli::command();
    let mut names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    names.push("help");
    // The word after an option that takes a value is that value, not an operand.
    let report = cli.find_subcommand("report").expect("report is a subcommand");
    let takes_value = |flag: &str| {
        report.get_arguments().chain(cli.get_arguments()).any(|a| {
            a.get_action().takes_values()
                && (a.get_long().is_some_and(|l| flag.strip_prefix("--") == Some(l))
                    || a.get_short().is_some_and(|c| flag.strip_prefix('-') == Some(c.encode_utf8(&mut [0; 4]))))
        })
    };
    let mut rest = args.iter().skip(1).map(|a| a.to_string_lossy().into_owned());
    let mut operand = None;
    while let Some(arg) = rest.next() {
        if arg == "--" {
            operand = rest.next();
            break;
        }
        if arg == STDIN || !arg.starts_with('-') {
            operand = Some(arg);
            break;
        }
        if takes_value(&arg) {
            rest.next();
        }
    }
    let Some(operand) = operand else { return args };
    let mistyped = || {
        !Path::new(&operand).exists()
            && !operand.contains(['.', '/'])
            && names.iter().any(|name| strsim::jaro(&operand, name) > 0.7)
    };
    if !names.contains(&operand.as_str()) && !mistyped() {
        args.insert(1, "report".into());
    }
    args
}

fn execute(cli: Cli) -> Result<(), Failure> {
    let log = Log { verbose: cli.verbose, start: std::time::Instant::now() };
    plan_memory(cli.max_memory, cli.temp_dir.as_deref(), &log)?;
    let stdout = std::io::stdout();
    let mut out = escape::Escaped::new(stdout.lock());
    let mut cut = false;
    match cli.command {
        Command::Report { dump, format, output, error, top, no_dominators, show_values, wide, nmt, proc } => {
            let width = table_width(&output);
            // A file that cannot be created, or one beside the dump that cannot be read, fails
            // now, not after minutes of analysis.
            let file = output.map(OutputFile::create).transpose()?;
            let native = native_inputs(nmt.as_deref(), &proc)?;
            let options = dumpscan_offheap::Options {
                top,
                error: error.clone(),
                dominators: !no_dominators,
                show_values,
                native,
            };
            let report = analyse(&dump, &options, &log, &mut cut)?;
            if let (Some(message), None) = (&error, &report.error) {
                log.say(&format!("warning: --error: no numbers to decode in \"{message}\""));
            }
            emit(file, &mut out, |sink| report::render(sink, &report, format, &report::Layout { top, width, wide }))?;
        }
        Command::Diff { old, new, format, output, top, wide } => {
            let width = table_width(&output);
            let file = output.map(OutputFile::create).transpose()?;
            // The diff compares neither dominators nor the largest buffers: the dominator
            // tree, the slowest step, is skipped.
            let options = dumpscan_offheap::Options { top, dominators: false, ..Default::default() };
            // One side at a time: the old side's dump and heap model are gone before the new
            // side's are built, so the peak is that of one report.
            let old = diff::side(&old, &options, &log, &mut cut)?;
            let new = diff::side(&new, &options, &log, &mut cut)?;
            let compared = dumpscan_offheap::diff::diff(&old, &new);
            emit(file, &mut out, |sink| diff::render(sink, &compared, format, &report::Layout { top, width, wide }))?;
        }
        Command::Capture { pid, output, report } => {
            let jvm = capture::find(pid)?;
            let captured = capture::capture(&jvm, &output, &log)?;
            report_capture(&captured, &output, &report, &log, &mut cut, &mut out)?;
        }
        Command::Watch { pid, direct_above, rss_above, interval, repeat, output, report } => {
            let jvm = capture::find(pid)?;
            let threshold = match (direct_above, rss_above) {
                (Some(share), _) => capture::Threshold::Direct(share),
                (None, Some(bytes)) => capture::Threshold::Rss(bytes),
                (None, None) => unreachable!("clap requires one threshold"),
            };
            capture::watch(&jvm, threshold, interval, repeat, &output, &log, |captured, dir| {
                report_capture(captured, dir, &report, &log, &mut cut, &mut out)
            })?;
        }
        Command::Info { dump, format, no_threads } => {
            let opened = open(&dump, &log, &mut cut)?;
            let meta = Metadata::read(&opened)?;
            log.phase("read the top-level records");
            let summary = dumpscan_hprof::Summary::compute(&meta, None)?;
            cut |= warn_truncation(summary.truncation);
            warn_class_cycles(&summary.classes);
            let threads = summary.threads(&meta)?;
            info::render(&mut out, &dump, &opened, &summary, &threads, format, !no_threads)?;
        }
        Command::Histogram { dump, top, format, compressed_oops, retained } => {
            let opened = open(&dump, &log, &mut cut)?;
            let meta = Metadata::read(&opened)?;
            log.phase("read the top-level records");
            let summary = dumpscan_hprof::Summary::compute(&meta, compressed_oops.choice())?;
            cut |= warn_truncation(summary.truncation);
            warn_class_cycles(&summary.classes);
            let retained = if retained {
                Some(histogram::retained_by_class(&Heap::build_with_log(&opened, &|m| log.phase(m))?))
            } else {
                None
            };
            histogram::render(&mut out, &dump, &opened, &summary, retained.as_ref(), top, format)?;
        }
        Command::Paths { dump, id, class, top, format, wide } => {
            let opened = open(&dump, &log, &mut cut)?;
            let heap = Heap::build_with_log(&opened, &|m| log.phase(m))?;
            cut |= warn_truncation(heap.truncation);
            warn_class_cycles(&heap.classes);
            heap.reach();
            log.phase(&format!("walked reachability from {} GC roots", heap.roots.len()));
            // clap requires one of --id and --class.
            let target = match id {
                Some(id) => graph::Target::Id(id),
                None => graph::Target::Class(class.unwrap_or_default()),
            };
            let form = match (&target, wide) {
                (graph::Target::Id(_), _) | (_, true) => graph::PathForm::Whole,
                (graph::Target::Class(_), false) => graph::PathForm::Shortened,
            };
            let objects = graph::targets(&heap, &target).map_err(Failure::NotFound)?;
            graph::render_paths(&mut out, &heap, &objects, top, format, form, graph::Width::of_stdout())?;
        }
        Command::Dominators { dump, top, format } => {
            let opened = open(&dump, &log, &mut cut)?;
            let heap = Heap::build_with_log(&opened, &|m| log.phase(m))?;
            cut |= warn_truncation(heap.truncation);
            warn_class_cycles(&heap.classes);
            let tree = Dominators::compute(&heap);
            log.phase("computed the dominator tree");
            graph::render_dominators(&mut out, &dump, &heap, tree, top, format)?;
        }
        Command::Inspect { dump, id, top, format, show_values } => {
            let opened = open(&dump, &log, &mut cut)?;
            let heap = Heap::build_with_log(&opened, &|m| log.phase(m))?;
            cut |= warn_truncation(heap.truncation);
            warn_class_cycles(&heap.classes);
            let object = heap
                .index_of(id)
                .ok_or_else(|| Failure::NotFound(format!("no object with id 0x{id:x} in the dump")))?;
            let view = inspect::Inspection::of(&heap, object, top, show_values);
            log.phase("found the object's referrers and path");
            inspect::render(&mut out, &view, format)?;
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "dumpscan", &mut script);
            out.write_all(&script)?;
        }
        Command::Man { command } => {
            let page = man_page(command.as_deref()).expect("clap checked the command's name");
            let mut roff = Vec::new();
            page.render(&mut roff)?;
            out.write_all(&roff)?;
        }
    }
    out.flush()?;
    if dumpscan_spill::peak_in_files() > 0 {
        let most = dumpscan_spill::peak_in_files() as u64;
        log.phase(&format!(
            "arrays past the memory budget took {} in files at the most",
            dumpscan_offheap::units::human_bytes(most)
        ));
    }
    if cut && cli.strict {
        return Err(Failure::Truncated);
    }
    Ok(())
}

/// Sets the memory budget: the model's large arrays stay in memory up to a share of it (the
/// rest is the small blocks, the allocator's slack and the pages being worked on), and past
/// that are backed by files. Said with `-v`.
fn plan_memory(given: Option<u64>, folder: Option<&Path>, log: &Log) -> Result<(), Failure> {
    use dumpscan_spill::BudgetSource;
    let allowed = given.map(|b| (b, BudgetSource::Given)).or_else(dumpscan_spill::allowed_memory);
    let limited = allowed.is_some_and(|(_, source)| source != BudgetSource::PhysicalMemory);
    dumpscan_spill::use_huge_pages(limited);
    let Some((budget, source)) = allowed else {
        return Ok(());
    };
    let folder = folder.map(Path::to_path_buf).unwrap_or_else(dumpscan_spill::default_folder);
    if dumpscan_spill::is_in_memory(&folder) {
        log.say(&format!("warning: {} is held in memory: arrays written there save none", folder.display()));
    }
    // Under a hard limit the group's page cache (the dump's pages, the files' pages being
    // worked on) must fit beside the anonymous blocks, or the group kills the process: a
    // quarter for the large blocks. Against physical memory alone, half.
    let share = match source {
        BudgetSource::PhysicalMemory => 2,
        BudgetSource::Given | BudgetSource::ControlGroup => 4,
    };
    let in_memory = usize::try_from(budget / share).unwrap_or(usize::MAX);
    dumpscan_spill::configure(in_memory, &folder).map_err(|error| Failure::TempDir { path: folder.clone(), error })?;
    let source = match source {
        BudgetSource::Given => "--max-memory",
        BudgetSource::ControlGroup => "the control group's limit",
        BudgetSource::PhysicalMemory => "three quarters of physical memory",
    };
    log.phase(&format!(
        "memory budget {} ({source}): large arrays in memory up to {}, then in files in {}",
        dumpscan_offheap::units::human_bytes(budget),
        dumpscan_offheap::units::human_bytes(in_memory as u64),
        folder.display()
    ));
    Ok(())
}

/// The files given with `--nmt` and `--proc`, read and parsed; `None` when there are none.
fn native_inputs(
    nmt: Option<&Path>,
    proc: &[PathBuf],
) -> Result<Option<dumpscan_offheap::native::NativeInputs>, Failure> {
    use dumpscan_offheap::native::{NativeInputs, Nmt, ProcMemory};
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|error| Failure::NativeUnreadable { path: path.to_path_buf(), error })
    };
    let malformed = |path: &Path| {
        let path = path.to_path_buf();
        move |error| Failure::NativeMalformed { path, error }
    };
    let mut inputs = NativeInputs::default();
    if let Some(path) = nmt {
        inputs.nmt = Some(Nmt::parse(&read(path)?).map_err(malformed(path))?);
    }
    for path in proc {
        inputs.proc.push(ProcMemory::parse(&read(path)?).map_err(malformed(path))?);
    }
    Ok(Some(inputs).filter(|i| !i.is_empty()))
}

/// The man page of `dumpscan`, or of one of its commands (`dumpscan-paths(1)`).
fn man_page(command: Option<&str>) -> Option<clap_mangen::Man> {
    let cli = Cli::command();
    let page = match command {
        None => cli,
        Some(name) => {
            let full = format!("dumpscan-{name}");
            cli.find_subcommand(name)?.clone().name(full.clone()).bin_name(full).version(env!("CARGO_PKG_VERSION"))
        }
    };
    Some(clap_mangen::Man::new(page))
}

/// The width a report's tables fit: the terminal's (or `$COLUMNS`) on stdout; none for a
/// file, which is for a ticket.
/// The report over a capture, the dump read with NMT's summary and /proc's files beside it:
/// as JSON into DIR/report.json, and as tables on stdout.
fn report_capture(
    captured: &capture::Captured,
    dir: &Path,
    how: &CaptureReport,
    log: &Log,
    cut: &mut bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let native = native_inputs(captured.nmt.as_deref(), &captured.proc)?;
    let options =
        dumpscan_offheap::Options { top: how.top, dominators: !how.no_dominators, native, ..Default::default() };
    let report = analyse(&captured.dump, &options, log, cut)?;
    let saved = OutputFile::create(dir.join(capture::REPORT))?;
    let layout = report::Layout { top: how.top, width: None, wide: how.wide };
    emit(Some(saved), out, |sink| report::render(sink, &report, ReportFormat::Json, &layout))?;
    log.say(&format!("report written: {}", dir.join(capture::REPORT).display()));
    let layout = report::Layout { width: table_width(&None), ..layout };
    emit(None, out, |sink| report::render(sink, &report, ReportFormat::Table, &layout))
}

/// The off-heap report of the dump at `path`: opened, modelled and analysed, with progress
/// on stderr; `cut` is set when the dump is cut short.
fn analyse(
    path: &Path,
    options: &dumpscan_offheap::Options,
    log: &Log,
    cut: &mut bool,
) -> Result<dumpscan_offheap::Report, Failure> {
    let opened = open(path, log, cut)?;
    let progress = Progress::new(log);
    let heap = Heap::build_with_log(&opened, &|m| progress.phase(m))?;
    *cut |= warn_truncation(heap.truncation);
    warn_class_cycles(&heap.classes);
    let report = dumpscan_offheap::analyze_heap(&heap, &path.display().to_string(), options, &|m| progress.phase(m));
    progress.done();
    Ok(report)
}

fn table_width(output: &Option<PathBuf>) -> Option<usize> {
    match (output, graph::Width::of_stdout()) {
        (None, graph::Width::Columns(columns)) => Some(columns),
        _ => None,
    }
}

/// Writes with `render` to the `-o` file, else to `out`; a failed write of the file names it.
fn emit(
    file: Option<OutputFile>,
    out: &mut dyn Write,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Failure> {
    match file {
        Some(mut file) => {
            let mut sink = escape::Escaped::new(&mut file.writer);
            let written = render(&mut sink).and_then(|()| sink.flush());
            drop(sink);
            file.finish(written)
        }
        None => Ok(render(out)?),
    }
}

/// The `-o` file of a report: created before the analysis starts, and removed again if the
/// command fails before the report is written (unless it was there before).
struct OutputFile {
    path: PathBuf,
    writer: std::io::BufWriter<std::fs::File>,
    created: bool,
    finished: bool,
}

impl OutputFile {
    fn create(path: PathBuf) -> Result<OutputFile, Failure> {
        let existed = path.exists();
        match std::fs::File::create(&path) {
            Ok(file) => {
                Ok(OutputFile { writer: std::io::BufWriter::new(file), path, created: !existed, finished: false })
            }
            Err(error) => Err(Failure::Output { target: OutputTarget::Create(path), error }),
        }
    }

    /// Flushes what `written` left in the buffer; either one's error is a failed write.
    fn finish(mut self, written: std::io::Result<()>) -> Result<(), Failure> {
        self.finished = true;
        let flushed = written.and_then(|()| self.writer.flush());
        flushed.map_err(|error| Failure::Output { target: OutputTarget::Write(self.path.clone()), error })
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.created && !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Phase messages: with --verbose, timed lines; otherwise, when stderr is a terminal, one
/// line rewritten in place and cleared at the end.
struct Progress<'l> {
    log: &'l Log,
    live: bool,
}

impl<'l> Progress<'l> {
    fn new(log: &'l Log) -> Progress<'l> {
        use std::io::IsTerminal;
        Progress { log, live: !log.verbose && std::io::stderr().is_terminal() }
    }

    fn phase(&self, message: &str) {
        if self.live {
            eprint!("\r\x1b[2Kdumpscan: {message}");
        } else {
            self.log.phase(message);
        }
    }

    fn done(&self) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Opens the dump at `path`, or reads it from standard input for `-`; warns when a compressed
/// file is cut short, and notes it in `cut`. How it was inflated is for `-v` only.
fn open(path: &Path, log: &Log, cut: &mut bool) -> Result<Dump, Failure> {
    let dump = if path == Path::new(STDIN) {
        use std::io::IsTerminal;
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(Failure::StdinIsTerminal);
        }
        Dump::from_reader(stdin.lock(), &|m| log.phase(m))?
    } else {
        Dump::open_with_log(path, &|m| log.phase(m))?
    };
    log.phase("opened the dump");
    if let Some(gzip) = dump.gzip_cut() {
        *cut = true;
        log.say(&format!(
            "warning: the compressed file is cut short: it ends at byte {} inside a gzip member; \
             its {} inflated bytes are read as a dump cut short",
            gzip.compressed_len, gzip.inflated_len
        ));
    }
    Ok(dump)
}

/// Warns of each super-class cycle the dump holds (cut where it closes, so the analysis goes
/// on), naming its classes.
fn warn_class_cycles(classes: &dumpscan_hprof::ClassTable) {
    for cycle in classes.cycles() {
        let names: Vec<String> = cycle.iter().map(|n| escape::printable(n).into_owned()).collect();
        eprintln!(
            "dumpscan: warning: the dump's super classes form a cycle: {} -> {}; read as if {} had no super class",
            names.join(" -> "),
            names.first().map_or("?", String::as_str),
            names.last().map_or("?", String::as_str),
        );
    }
}

/// Warns when the dump's records stop short; says whether they did.
fn warn_truncation(truncation: Option<dumpscan_hprof::Truncation>) -> bool {
    if let Some(t) = truncation {
        eprintln!(
            "dumpscan: warning: the dump is cut short inside the {} record at byte offset {}; \
             reporting what was read (complete up to byte {})",
            dumpscan_hprof::record_name(t.record_tag),
            t.record_offset,
            t.complete_until
        );
    }
    truncation.is_some()
}

/// Every command's output for one dump, rendered in-process to `out`: the report (with its
/// dominators, in each format, `error` as its `--error`), the histogram, `info` and
/// `dominators`, each as a table and as JSON. For the fuzz target and the tests that feed
/// dumpscan broken dumps: whatever the bytes hold, it ends in output or in the one-line
/// message the command would print, never in a panic.
pub fn render_all(dump: &Dump, error: Option<&str>, out: &mut dyn Write) -> Result<(), String> {
    let failed = |f: Failure| f.message("the dump");
    let path = Path::new("dump.hprof");
    let mut out = escape::Escaped::new(out);
    let meta = Metadata::read(dump).map_err(|e| failed(e.into()))?;
    let summary = dumpscan_hprof::Summary::compute(&meta, None).map_err(|e| failed(e.into()))?;
    let threads = summary.threads(&meta).map_err(|e| failed(e.into()))?;
    let heap = Heap::build(dump).map_err(|e| failed(e.into()))?;
    let options =
        dumpscan_offheap::Options { top: 20, error: error.map(str::to_string), dominators: true, ..Default::default() };
    let report = dumpscan_offheap::analyze_heap(&heap, "dump.hprof", &options, &|_| {});
    let write = |result: std::io::Result<()>| result.map_err(|e| failed(e.into()));
    for format in [ReportFormat::Table, ReportFormat::Json, ReportFormat::Markdown, ReportFormat::Html] {
        for (top, width, wide) in [(20, Some(80), false), (0, None, false), (3, None, true)] {
            write(report::render(&mut out, &report, format, &report::Layout { top, width, wide }))?;
        }
    }
    let retained = histogram::retained_by_class(&heap);
    for format in [Format::Table, Format::Json] {
        write(histogram::render(&mut out, path, dump, &summary, Some(&retained), 0, format))?;
        write(info::render(&mut out, path, dump, &summary, &threads, format, true))?;
        write(graph::render_dominators(&mut out, path, &heap, Dominators::compute(&heap), 0, format))?;
    }
    write(out.flush())
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// The message names the file where the failure is about one, and the error a failure
    /// wraps stays beneath it.
    #[test]
    fn failures_say_one_line_and_keep_their_source() {
        let fifo = Failure::Dump(dumpscan_hprof::Error::new(ErrorKind::NotAFile(FileKind::Fifo), 0));
        assert_eq!(
            fifo.message("p"),
            "p: is a named pipe, not a regular file (to read a stream, give - and pipe it in: dumpscan - < p)"
        );
        assert_eq!(fifo.status(), EXIT_IO);
        assert!(fifo.source().is_some_and(|e| e.is::<dumpscan_hprof::Error>()));

        let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let side = Failure::Side { path: "old.json".into(), failure: Box::new(Failure::NotAReport(json)) };
        assert_eq!(
            side.message("ignored"),
            "old.json: not a dumpscan.report.v1 report: EOF while parsing an object at line 1 column 1"
        );
        assert_eq!(side.status(), EXIT_BAD_DUMP);
        let inner = side.source().expect("the side's failure");
        assert!(inner.source().is_some_and(|e| e.is::<serde_json::Error>()));

        let nmt = Failure::NmtSummary(dumpscan_offheap::native::Nmt::parse("Total: reserved=1QB").unwrap_err());
        assert_eq!(nmt.message("d"), "NMT's summary: line 1: reserved=1QB: unknown unit \"QB\"");
        assert!(nmt.source().is_some_and(|e| e.is::<dumpscan_offheap::native::NativeError>()));

        let output = Failure::Output {
            target: OutputTarget::Create("/x/out.md".into()),
            error: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(output.message("d"), "cannot create /x/out.md: entity not found");
        assert!(output.source().is_some_and(|e| e.is::<std::io::Error>()));
        assert_eq!(Failure::Truncated.message("d"), "d: the dump is cut short (--strict)");
    }
}
