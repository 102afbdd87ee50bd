//! The `dumpscan` command line: argument parsing, the subcommands, and their renderers.

mod dump_json;
mod graph;
mod histogram;
mod info;
mod report;
mod table;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use dumpscan_heap::{Dominators, Heap};
use dumpscan_hprof::{Dump, ErrorKind, Metadata};

/// Exit status when the input is not a readable HPROF dump.
pub const EXIT_BAD_DUMP: i32 = 3;
/// Exit status when the file cannot be read or output cannot be written.
pub const EXIT_IO: i32 = 1;
/// Exit status when the object or class asked about is not in the dump.
pub const EXIT_NOT_FOUND: i32 = 4;

#[derive(Parser, Debug)]
#[command(name = "dumpscan", version, about = "Who holds a JVM's memory: reads HPROF heap dumps (plain or gzip)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Say on stderr what each phase took.
    #[arg(short, long, global = true)]
    verbose: bool,
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
            let memory = allocated_bytes().map(|b| format!(", {:.2} GiB", b as f64 / (1u64 << 30) as f64));
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
    Report {
        /// The heap dump (.hprof, or .hprof.gz as written by `jcmd GC.heap_dump -gz=N` or gzip).
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
    },
    /// Format, id size, dump time, record and sub-record counts, GC roots, threads and their stacks.
    Info {
        /// The heap dump (.hprof, or .hprof.gz as written by `jcmd GC.heap_dump -gz=N` or gzip).
        dump: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Do not list thread stacks (tables only).
        #[arg(long)]
        no_threads: bool,
    },
    /// Instances and shallow bytes per class, largest first.
    Histogram {
        /// The heap dump (.hprof or .hprof.gz).
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
    /// Shortest paths from GC roots to objects: who keeps them alive.
    Paths {
        /// The heap dump (.hprof or .hprof.gz).
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
    },
    /// The objects that keep the most heap alive (retained size, from the dominator tree).
    Dominators {
        /// The heap dump (.hprof or .hprof.gz).
        dump: PathBuf,
        /// How many objects to show; 0 shows all.
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
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

/// A failure, with the exit status it maps to.
struct Failure {
    status: i32,
    message: String,
}

impl From<dumpscan_hprof::Error> for Failure {
    fn from(e: dumpscan_hprof::Error) -> Self {
        let status = match e.kind {
            ErrorKind::Io(_) => EXIT_IO,
            _ => EXIT_BAD_DUMP,
        };
        let message = match e.kind {
            ErrorKind::Io(_) | ErrorKind::NotHprof => e.kind.to_string(),
            _ => e.to_string(),
        };
        Failure { status, message }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure { status: EXIT_IO, message: format!("cannot write output: {e}") }
    }
}

/// Runs the command line and returns the process exit status.
pub fn run() -> i32 {
    let cli = Cli::parse_from(with_default_command(std::env::args_os().collect()));
    let path = match &cli.command {
        Command::Report { dump, .. }
        | Command::Info { dump, .. }
        | Command::Histogram { dump, .. }
        | Command::Paths { dump, .. }
        | Command::Dominators { dump, .. } => dump.clone(),
    };
    match execute(cli) {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("dumpscan: {}: {}", path.display(), f.message);
            f.status
        }
    }
}

/// `dumpscan DUMP [OPTIONS]` means `dumpscan report DUMP [OPTIONS]`: when no subcommand is
/// named and something other than an option is given, `report` goes in front.
fn with_default_command(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let command_names: Vec<String> = {
        use clap::CommandFactory;
        let cli = Cli::command();
        let mut names: Vec<String> = cli.get_subcommands().map(|c| c.get_name().to_string()).collect();
        names.push("help".into());
        names
    };
    let rest = args.get(1..).unwrap_or_default();
    let names_a_command = rest.iter().any(|a| a.to_str().is_some_and(|a| command_names.iter().any(|n| n == a)));
    let has_operand = rest.iter().any(|a| !a.to_string_lossy().starts_with('-'));
    if !names_a_command && has_operand {
        args.insert(1, "report".into());
    }
    args
}

fn execute(cli: Cli) -> Result<(), Failure> {
    let log = Log { verbose: cli.verbose, start: std::time::Instant::now() };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Report { dump, format, output, error, top, no_dominators, show_values } => {
            let opened = open(&dump, &log)?;
            let progress = Progress::new(&log);
            let heap = Heap::build_with_log(&opened, &|m| progress.phase(m))?;
            warn_truncation_at(heap.truncation);
            let options =
                dumpscan_offheap::Options { top, error: error.clone(), dominators: !no_dominators, show_values };
            let report =
                dumpscan_offheap::analyze_heap(&heap, &dump.display().to_string(), &options, &|m| progress.phase(m));
            progress.done();
            if let (Some(message), None) = (&error, &report.error) {
                log.say(&format!("warning: --error: no numbers to decode in \"{message}\""));
            }
            let mut file;
            let sink: &mut dyn Write = match &output {
                Some(path) => {
                    file = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| Failure {
                        status: EXIT_IO,
                        message: format!("cannot create {}: {e}", path.display()),
                    })?);
                    &mut file
                }
                None => &mut out,
            };
            match format {
                ReportFormat::Json => report::render_json(sink, &report)?,
                ReportFormat::Table => report::render(sink, &report, report::Style::Terminal, top)?,
                ReportFormat::Markdown => report::render(sink, &report, report::Style::Markdown, top)?,
            }
            sink.flush()?;
        }
        Command::Info { dump, format, no_threads } => {
            let opened = open(&dump, &log)?;
            let meta = Metadata::read(&opened)?;
            log.phase("read the top-level records");
            let summary = dumpscan_hprof::Summary::compute(&meta, None)?;
            warn_truncation(&summary);
            let threads = summary.threads(&meta)?;
            info::render(&mut out, &dump, &opened, &summary, &threads, format, !no_threads)?;
        }
        Command::Histogram { dump, top, format, compressed_oops, retained } => {
            let opened = open(&dump, &log)?;
            let meta = Metadata::read(&opened)?;
            log.phase("read the top-level records");
            let summary = dumpscan_hprof::Summary::compute(&meta, compressed_oops.choice())?;
            warn_truncation(&summary);
            let retained = if retained {
                Some(histogram::retained_by_class(&Heap::build_with_log(&opened, &|m| log.phase(m))?))
            } else {
                None
            };
            histogram::render(&mut out, &dump, &opened, &summary, retained.as_ref(), top, format)?;
        }
        Command::Paths { dump, id, class, top, format } => {
            let opened = open(&dump, &log)?;
            let heap = Heap::build_with_log(&opened, &|m| log.phase(m))?;
            warn_truncation_at(heap.truncation);
            heap.reach();
            log.phase(&format!("walked reachability from {} GC roots", heap.roots.len()));
            // clap requires one of --id and --class.
            let target = match id {
                Some(id) => graph::Target::Id(id),
                None => graph::Target::Class(class.unwrap_or_default()),
            };
            graph::render_paths(&mut out, &heap, &target, top, format)
                .map_err(|message| Failure { status: EXIT_NOT_FOUND, message })?;
        }
        Command::Dominators { dump, top, format } => {
            let opened = open(&dump, &log)?;
            let heap = Heap::build_with_log(&opened, &|m| log.phase(m))?;
            warn_truncation_at(heap.truncation);
            let tree = Dominators::compute(&heap);
            log.phase("computed the dominator tree");
            graph::render_dominators(&mut out, &dump, &heap, tree, top, format)?;
        }
    }
    out.flush()?;
    Ok(())
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

fn open(path: &std::path::Path, log: &Log) -> Result<Dump, Failure> {
    let dump = Dump::open_with_log(path, &|m| log.say(m))?;
    log.phase("opened the dump");
    Ok(dump)
}

fn warn_truncation(summary: &dumpscan_hprof::Summary) {
    warn_truncation_at(summary.truncation)
}

fn warn_truncation_at(truncation: Option<dumpscan_hprof::Truncation>) {
    if let Some(t) = truncation {
        eprintln!(
            "dumpscan: warning: the dump is cut short inside the {} record at byte offset {}; \
             reporting what was read (complete up to byte {})",
            dumpscan_hprof::record_name(t.record_tag),
            t.record_offset,
            t.complete_until
        );
    }
}
