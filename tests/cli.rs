//! The one integration-test binary of the `dumpscan` package: the command as a user runs it
//! (outputs, exit statuses, bad and partial input) here, and in its modules the real dumps
//! (`fixtures`, `report`, `heap_shapes`), hostile inputs (`hardening`) and live JVMs (`live`),
//! all starting the binary through `run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

mod fixtures;
mod hardening;
mod heap_shapes;
mod live;
mod report;
mod run;

use run::{dumpscan, fixture, spawn_piped, stderr};

fn small_dump(dir: &Path) -> PathBuf {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let node = b.define_class("com.example.Node", Some(object), &[("next", T::Object)]);
    let mut next = 0;
    for _ in 0..3 {
        next = b.instance(node, &[V::Object(next)]);
    }
    b.body().root_simple(0xFF, next);
    let path = dir.join("small.hprof");
    std::fs::write(&path, b.finish_segments(64)).unwrap();
    path
}

#[test]
fn histogram_json_has_the_documented_shape() {
    let out = dumpscan(&["histogram", &fixture("direct-buffers-jdk17.hprof.gz"), "--format", "json", "--top", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["truncated"], false);
    assert_eq!(doc["dump"]["id_size"], 8);
    assert_eq!(doc["dump"]["format"], "JAVA PROFILE 1.0.2");
    let classes = doc["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 5);
    let bytes: Vec<u64> = classes.iter().map(|c| c["shallow_bytes"].as_u64().unwrap()).collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "sorted by bytes: {bytes:?}");
    assert!(classes.iter().all(|c| c["name"].is_string() && c["instances"].is_u64()));
}

#[test]
fn histogram_table_and_top_zero() {
    let out = dumpscan(&["histogram", &fixture("direct-buffers-jdk17.hprof.gz"), "--top", "0"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("DirectBuffers$Node"));
    assert!(text.contains("java.nio.DirectByteBuffer"));
    assert!(!text.contains("top 0 shown"));
}

#[test]
fn info_names_threads_and_counts_roots() {
    let out = dumpscan(&["info", &fixture("direct-buffers-jdk17.hprof.gz"), "--format", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let threads = doc["threads"].as_array().unwrap();
    let holder = threads.iter().find(|t| t["name"] == "holder-thread").expect("holder-thread");
    assert!(holder["frames"].as_array().unwrap().iter().any(|f| f["method"] == "lambda$main$0"), "{holder}");
    assert!(doc["gc_roots"]["Java frame"].as_u64().unwrap() > 0);
    assert!(doc["sub_records"]["INSTANCE DUMP"].as_u64().unwrap() > 10_000);
}

#[test]
fn not_a_dump_is_a_one_line_error_and_status_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello").unwrap();
    let out = dumpscan(&["histogram", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not an HPROF heap dump"), "{err}");
}

#[test]
fn a_missing_file_is_status_1() {
    let out = dumpscan(&["info", "/nonexistent/heap.hprof"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
}

#[test]
fn a_malformed_dump_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_dump(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    // Replace the tag of the first sub-record of the first heap segment with an unknown one.
    let dump = dumpscan::hprof::Dump::from_vec(bytes.clone()).unwrap();
    let segment = dump.records().find(|r| r.tag == 0x1C).unwrap();
    let at = segment.body_offset() as usize;
    bytes[at] = 0x42;
    std::fs::write(&path, bytes).unwrap();
    let out = dumpscan(&["histogram", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("at byte offset {at}")), "{err}");
}

#[test]
fn a_truncated_dump_is_reported_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_dump(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
    let out = dumpscan(&["histogram", path.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("warning") && err.contains("byte offset"), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["truncated"], true);
    assert_eq!(doc["dump"]["truncated"], true);
}

#[test]
fn paths_and_dominators_explain_who_holds_what() {
    let dump = fixture("direct-buffers-jdk17.hprof.gz");
    let out = dumpscan(&["paths", &dump, "--class", "DirectBuffers$StaticHolder", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = doc["paths"][0]["text"].as_str().unwrap();
    assert!(text.contains("static DirectBuffers.HELD"), "{text}");

    let out = dumpscan(&["dominators", &dump, "--top", "5", "--format", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let retained: Vec<u64> =
        doc["dominators"].as_array().unwrap().iter().map(|d| d["retained_bytes"].as_u64().unwrap()).collect();
    assert_eq!(retained.len(), 5);
    assert!(retained.windows(2).all(|w| w[0] >= w[1]));

    let out = dumpscan(&["paths", &dump, "--class", "no.such.Class"]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn report_is_the_default_command() {
    let dump = fixture("outbound-pileup-jdk17.hprof.gz");
    let out = dumpscan(&[&dump, "--no-dominators"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for section in
        ["FINDINGS", "COUNTERS KEPT BY THE PROCESS", "DIRECT BUFFERS", "NETTY POOLS", "RETAINERS", "LARGEST BUFFERS"]
    {
        assert!(text.contains(section), "{section} in:\n{text}");
    }
    assert!(text.contains("Writes piling up in NioSocketChannel's outbound buffer"));
    // The same as naming the command, with options before the dump.
    let named = dumpscan(&["-v", "report", "--no-dominators", &dump]);
    assert_eq!(String::from_utf8(named.stdout).unwrap(), text);
}

#[test]
fn report_as_json_to_a_file_follows_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let out = dumpscan(&[
        &fixture("netty-pooled-noclean-jdk17.hprof.gz"),
        "--format",
        "json",
        "-o",
        file.to_str().unwrap(),
        "--error",
        "failed to allocate 16777216 byte(s) of direct memory (used: 37748736, max: 64880640)",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "the report went to the file");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["schema"], "dumpscan.report.v1");
    for key in ["path", "format", "id_size", "bytes", "truncated", "objects"] {
        assert!(doc["dump"].get(key).is_some(), "dump.{key}");
    }
    for key in ["count", "total_capacity", "reserved", "max"] {
        assert!(doc["counters"]["jdk"].get(key).is_some(), "counters.jdk.{key}");
    }
    assert_eq!(doc["counters"]["netty"]["used"], 37748736);
    assert_eq!(doc["counters"]["netty"]["no_cleaner"], true);
    for key in ["owned", "no_cleaner", "mapped", "views", "unreachable"] {
        assert!(doc["direct_buffers"][key]["count"].is_u64() && doc["direct_buffers"][key]["bytes"].is_u64(), "{key}");
    }
    let arena = &doc["netty"][0]["arenas"][0];
    for key in [
        "kind",
        "chunks",
        "chunk_bytes",
        "used_bytes",
        "free_bytes",
        "huge_count",
        "huge_bytes",
        "thread_caches",
        "cached_bytes",
    ] {
        assert!(arena.get(key).is_some(), "arena.{key}");
    }
    let retainers = doc["retainers"].as_array().unwrap();
    let sum: u64 = retainers.iter().map(|r| r["bytes"].as_u64().unwrap()).sum();
    assert_eq!(sum, doc["native_bytes"].as_u64().unwrap());
    for key in ["root", "path", "buffers", "bytes"] {
        assert!(retainers[0].get(key).is_some(), "retainer.{key}");
    }
    for key in ["id", "class", "kind", "bytes", "path"] {
        assert!(doc["largest"][0].get(key).is_some(), "largest.{key}");
    }
    for key in ["title", "detail", "bytes"] {
        assert!(doc["findings"][0].get(key).is_some(), "finding.{key}");
    }
    assert_eq!(doc["error"]["requested"], 16777216);
    assert_eq!(doc["error"]["source"], "netty");
}

/// The Markdown is CommonMark with GitHub's tables, as a renderer reads it: every section a
/// heading, every table a table with its own header (no prose swallowed into one), names
/// from the dump in code spans.
#[test]
fn report_as_markdown_parses_into_the_intended_sections_and_tables() {
    use pulldown_cmark::{Event, Options as Md, Parser, Tag, TagEnd};
    for name in
        ["direct-buffers-jdk25.hprof.gz", "outbound-pileup-jdk17.hprof.gz", "allocation-in-progress-jdk17.hprof.gz"]
    {
        let out = dumpscan(&[&fixture(name), "--format", "markdown"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let (mut headings, mut tables) = (Vec::new(), Vec::new());
        let (mut in_heading, mut in_head, mut in_paragraph) = (false, false, false);
        let mut paragraphs = Vec::new();
        for event in Parser::new_ext(&text, Md::ENABLE_TABLES) {
            match event {
                Event::Start(Tag::Heading { .. }) => {
                    in_heading = true;
                    headings.push(String::new());
                }
                Event::End(TagEnd::Heading(_)) => in_heading = false,
                Event::Start(Tag::Table(_)) => tables.push(Vec::<String>::new()),
                Event::Start(Tag::TableHead) => in_head = true,
                Event::End(TagEnd::TableHead) => in_head = false,
                Event::Start(Tag::TableCell) if in_head => tables.last_mut().unwrap().push(String::new()),
                Event::Start(Tag::Paragraph) => {
                    in_paragraph = true;
                    paragraphs.push(String::new());
                }
                Event::End(TagEnd::Paragraph) => in_paragraph = false,
                Event::Text(t) | Event::Code(t) => {
                    if in_heading {
                        headings.last_mut().unwrap().push_str(&t);
                    } else if in_head {
                        tables.last_mut().unwrap().last_mut().unwrap().push_str(&t);
                    } else if in_paragraph {
                        paragraphs.last_mut().unwrap().push_str(&t);
                    }
                }
                _ => {}
            }
        }
        assert!(headings[0].starts_with("off-heap memory in "), "{name}: {headings:?}");
        for section in ["Findings", "Counters kept by the process", "Direct buffers", "Retainers of direct memory"] {
            assert!(headings.iter().any(|h| h == section), "{name}: {section} in {headings:?}");
        }
        let headers: Vec<&str> = tables.iter().map(|t| t[0].as_str()).collect();
        for first in ["counter", "class", "#"] {
            assert!(headers.contains(&first), "{name}: a table headed {first}: {headers:?}");
        }
        assert!(tables.iter().all(|t| t.len() >= 3), "{name}: every table has its columns: {tables:?}");
        // No table row ran into a paragraph, and no paragraph into a table.
        for p in &paragraphs {
            assert!(!p.contains("| ") && !p.contains("---|"), "{name}: a table swallowed into prose: {p}");
        }
        if name.starts_with("direct-buffers") {
            assert!(text.contains("| `static DirectBuffers.CACHE -> ArrayList[*] -> DirectByteBuffer` |"), "{text}");
        }
        if name.starts_with("outbound") {
            assert!(headings.iter().any(|h| h == "Channels with pending writes"), "{headings:?}");
        }
    }
}

/// Tables and prose fit the width given; `--wide` keeps whole paths; the commands a finding
/// suggests carry the real path, quoted for the shell, and run as printed.
#[test]
fn report_fits_the_width_and_its_commands_can_be_pasted() {
    for name in
        ["outbound-pileup-jdk17.hprof.gz", "allocation-in-progress-jdk25.hprof.gz", "netty-pooled-jdk17.hprof.gz"]
    {
        for columns in ["120", "80"] {
            let out = run::command(&[&fixture(name), "--top", "0"]).env("COLUMNS", columns).output().unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            let width: usize = columns.parse().unwrap();
            let long: Vec<&str> = text.lines().filter(|l| l.chars().count() > width).collect();
            assert!(long.is_empty(), "{name} at {columns} columns: {long:#?}");
            assert!(text.contains("ChannelOutboundBuffer$Entry.next x") || !name.starts_with("outbound"));
        }
    }
    let wide = run::command(&[&fixture("outbound-pileup-jdk17.hprof.gz"), "--wide", "--no-dominators"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let wide = String::from_utf8(wide.stdout).unwrap();
    assert!(wide.lines().any(|l| l.chars().count() > 80), "--wide ignores the width");
    assert!(wide.contains(
        "io.netty.channel.ChannelOutboundBuffer$Entry.next -> io.netty.channel.ChannelOutboundBuffer$Entry.next"
    ));

    // A path with a space and a quote: the suggested command is pasted into a shell as is.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("on-call's heap.hprof.gz");
    std::fs::copy(fixture("outbound-pileup-jdk17.hprof.gz"), &dump).unwrap();
    let out = dumpscan(&[dump.to_str().unwrap(), "--no-dominators"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let command = text.lines().find_map(|l| l.trim().strip_prefix("- dumpscan paths ")).expect("a suggested command");
    let words = shell_words::split(command).unwrap();
    assert_eq!(words[0], dump.to_str().unwrap());
    let run = dumpscan(&["paths", &words[0], &words[1], &words[2]]);
    assert!(run.status.success(), "{}", stderr(&run));
}

#[test]
fn report_on_bad_input_and_an_unreadable_error_message() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.hprof");
    std::fs::write(&junk, b"not a heap dump at all").unwrap();
    let out = dumpscan(&[junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);

    let out = dumpscan(&[small_dump(dir.path()).to_str().unwrap(), "--error", "Direct buffer memory"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no numbers to decode"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 B of direct memory found"));
}

#[test]
fn report_on_a_truncated_dump_says_so() {
    use std::io::Read;
    let mut bytes = Vec::new();
    let file = std::fs::File::open(fixture("netty-pooled-jdk17.hprof.gz")).unwrap();
    flate2::read::MultiGzDecoder::new(file).read_to_end(&mut bytes).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.hprof");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = dumpscan(&[cut.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut short"));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dump"]["truncated"], true);
    assert!(doc["findings"][0]["title"].as_str().unwrap().starts_with("The dump is cut short"));
}

/// Runs dumpscan with `input` on its standard input.
fn dumpscan_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = spawn_piped(args, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    out
}

#[test]
fn completions_man_page_and_examples_come_from_the_same_definitions() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef dumpscan"),
        ("fish", "complete -c dumpscan"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = dumpscan(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker) && script.contains("inspect") && script.contains("--show-values"), "{shell}");
    }
    let out = dumpscan(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with(".ie") || page.contains(".TH dumpscan 1"), "{page}");
    assert!(page.contains("Examples:") && page.contains("completions"), "{page}");
    let page = String::from_utf8(dumpscan(&["man", "paths"]).stdout).unwrap();
    assert!(page.contains(".TH dumpscan-paths 1") && page.contains("\\-\\-class"), "{page}");
    assert_eq!(dumpscan(&["man", "nonsense"]).status.code(), Some(2));
    for command in [&["--help"][..], &["inspect", "--help"], &["paths", "--help"], &["report", "--help"]] {
        let help = String::from_utf8(dumpscan(command).stdout).unwrap();
        assert!(help.contains("Examples:\n  dumpscan"), "{command:?}: {help}");
    }
}

#[test]
fn a_mistyped_command_gets_clap_suggestion_but_a_dump_is_still_a_report() {
    let out = dumpscan(&["reprot", "x.hprof"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unrecognized subcommand 'reprot'") && err.contains("'report'"), "{err}");
    assert_eq!(dumpscan(&["-v", "histgram", "x.hprof"]).status.code(), Some(2));

    // A dump that happens to be named like a typo, and options with values before the dump.
    let dir = tempfile::tempdir().unwrap();
    small_dump(dir.path());
    std::fs::rename(dir.path().join("small.hprof"), dir.path().join("reprot")).unwrap();
    let run_in = |args: &[&str]| run::command(args).current_dir(dir.path()).output().unwrap();
    for args in [&["reprot"][..], &["./reprot"], &["--format", "json", "reprot"], &["--top", "3", "./reprot"]] {
        let out = run_in(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("direct"), "{args:?}");
    }
    // A missing dump that resembles no command is a missing file, not a usage error.
    let out = dumpscan(&["/no/such/heap.hprof"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_directory_or_a_pipe_is_refused_in_one_line_and_stdin_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for args in [
        &[d][..],
        &["report", d],
        &["info", d],
        &["histogram", d],
        &["paths", d, "--id", "0x1"],
        &["dominators", d],
        &["inspect", d, "--id", "0x1"],
    ] {
        let out = dumpscan(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(&format!("{d}: is a directory, not a heap dump")), "{err}");
    }
    #[cfg(unix)]
    {
        // No writer: opening it would block forever.
        let fifo = dir.path().join("fifo");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let out = dumpscan(&["info", fifo.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("is a named pipe, not a regular file"), "{}", stderr(&out));
    }

    // `-` reads the dump from standard input, gzip or plain, as from the file.
    let file = fixture("direct-buffers-jdk17.hprof.gz");
    let from_file = dumpscan(&["histogram", &file, "--format", "json", "--top", "5"]);
    let gz = std::fs::read(&file).unwrap();
    let from_stdin = dumpscan_with_stdin(&["histogram", "-", "--format", "json", "--top", "5"], &gz);
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    let mut from_file: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
    let from_stdin: serde_json::Value = serde_json::from_slice(&from_stdin.stdout).unwrap();
    assert_eq!(from_stdin["dump"]["path"], "-");
    from_file["dump"]["path"] = "-".into();
    assert_eq!(from_stdin, from_file);
    let plain = std::fs::read(small_dump(dir.path())).unwrap();
    let out = dumpscan_with_stdin(&["-", "--no-dominators"], &plain);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 B of direct memory found"));
    let out = dumpscan_with_stdin(&["info", "-"], b"not a dump");
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("standard input: not an HPROF heap dump"), "{}", stderr(&out));
}

#[test]
fn the_output_file_is_checked_first_and_failed_writes_are_status_1() {
    let dump = fixture("direct-buffers-jdk17.hprof.gz");
    let out = dumpscan(&[&dump, "-o", "/no/such/folder/report.txt"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot create /no/such/folder/report.txt"), "{err}");

    // A full disk, for a file and for stdout.
    let out = dumpscan(&[&dump, "--no-dominators", "-o", "/dev/full"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot write /dev/full"), "{}", stderr(&out));
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = run::command(&["paths", &dump, "--class", "java.nio.DirectByteBuffer"]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot write the output"), "{}", stderr(&out));
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    use std::process::Stdio;
    let dump = fixture("direct-buffers-jdk17.hprof.gz");
    for args in [
        &[&dump[..], "--no-dominators"][..],
        &["histogram", &dump, "--top", "0"],
        &["info", &dump],
        &["dominators", &dump],
        &["paths", &dump, "--class", "java.lang.String", "--top", "0"],
        &["inspect", &dump, "--id", &first_id(&dump, "java.nio.DirectByteBuffer")],
        &["completions", "bash"],
        &["man"],
    ] {
        let mut child = spawn_piped(args, Stdio::null());
        // The reader goes away before the first line is written, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(!err.contains("pipe") && !err.contains("error"), "{args:?}: {err}");
    }
}

/// `name` from the fixtures, its compressed bytes cut at `at` (a fraction of its length),
/// written to `dir`.
fn cut_fixture(dir: &Path, name: &str, at: f64) -> (PathBuf, usize) {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let cut = (bytes.len() as f64 * at) as usize;
    let path = dir.join(format!("cut-{cut}-{name}"));
    std::fs::write(&path, &bytes[..cut]).unwrap();
    (path, cut)
}

#[test]
fn a_cut_gzip_dump_is_read_up_to_the_cut_and_strict_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["direct-buffers-jdk17.hprof.gz", "direct-buffers-jdk17-jcmd.hprof.gz", "netty-pooled-jdk25.hprof.gz"] {
        for at in [0.5, 0.77, 0.999] {
            let (path, cut) = cut_fixture(dir.path(), name, at);
            let path = path.to_str().unwrap();
            let out = dumpscan(&["histogram", path, "--format", "json"]);
            assert!(out.status.success(), "{name} at {cut}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains(&format!("the compressed file is cut short: it ends at byte {cut}")), "{err}");
            assert!(err.contains("the dump is cut short inside the"), "{err}");
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(doc["truncated"], true, "{name} at {cut}");
            assert!(!doc["classes"].as_array().unwrap().is_empty(), "{name} at {cut}: objects read before the cut");

            // --strict: the same output, then status 5.
            let strict = dumpscan(&["--strict", "histogram", path, "--format", "json"]);
            assert_eq!(strict.status.code(), Some(5), "{}", stderr(&strict));
            assert_eq!(strict.stdout, out.stdout);
            assert!(stderr(&strict).contains("cut short (--strict)"));
        }
    }
    let (path, _) = cut_fixture(dir.path(), "outbound-pileup-jdk17.hprof.gz", 0.8);
    let out = dumpscan(&[path.to_str().unwrap(), "--no-dominators", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dump"]["truncated"], true);
    // A whole dump passes --strict; a plain dump cut short fails it.
    assert!(dumpscan(&["--strict", "info", &fixture("direct-buffers-jdk17.hprof.gz")]).status.success());
    let plain = small_dump(dir.path());
    let bytes = std::fs::read(&plain).unwrap();
    std::fs::write(&plain, &bytes[..bytes.len() - 20]).unwrap();
    assert_eq!(dumpscan(&["histogram", plain.to_str().unwrap(), "--strict"]).status.code(), Some(5));
}

/// The id of the first object `paths --class` lists.
fn first_id(dump: &str, class: &str) -> String {
    let out = dumpscan(&["paths", dump, "--class", class, "--format", "json", "--top", "1"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["paths"][0]["id"].as_str().unwrap().to_string()
}

#[test]
fn inspect_shows_fields_referrers_and_path_but_no_data_unless_asked() {
    let dump = fixture("direct-buffers-jdk17.hprof.gz");
    let holder = first_id(&dump, "DirectBuffers$StaticHolder");
    let out = dumpscan(&["inspect", &dump, "--id", &holder, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "dumpscan.inspect.v1");
    assert_eq!(doc["class"], "DirectBuffers$StaticHolder");
    assert_eq!(doc["reachability"], "strong");
    assert!(doc["shallow_bytes"].as_u64().unwrap() > 0);
    let payload = &doc["fields"].as_array().unwrap().iter().find(|f| f["name"] == "payload").unwrap()["text"];
    assert!(payload.as_str().unwrap().starts_with("byte[]@0x"), "{payload}");
    assert_eq!(doc["referrers"]["total"], 1);
    assert_eq!(doc["referrers"]["shown"][0]["via"], "static DirectBuffers.HELD");
    assert!(doc["path"].as_array().unwrap().iter().any(|s| s == "static DirectBuffers.HELD"), "{}", doc["path"]);

    // A string: its length, its text only with --show-values.
    let string = first_id(&dump, "java.lang.String");
    let hidden = String::from_utf8(dumpscan(&["inspect", &dump, "--id", &string]).stdout).unwrap();
    assert!(hidden.contains("hidden: --show-values") && hidden.contains("\nFIELDS\n"), "{hidden}");
    assert!(hidden.contains("java.lang.String.coder = 0 (byte)"), "{hidden}");
    let shown = dumpscan(&["inspect", &dump, "--id", &string, "--show-values", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let text = doc["string"]["value"].as_str().unwrap();
    assert_eq!(doc["string"]["chars"].as_u64().unwrap() as usize, text.chars().count());
    assert!(text.len() > 10 && !hidden.contains(text), "the text only with --show-values");
    let table = dumpscan(&["inspect", &dump, "--id", &string, "--show-values"]);
    assert!(String::from_utf8(table.stdout).unwrap().contains(&format!("value         {text:?}")));

    // Its byte[]: length and referrer; the bytes only with --show-values.
    let value = doc["fields"].as_array().unwrap().iter().find(|f| f["name"] == "value").unwrap()["value"].clone();
    let array = String::from_utf8(dumpscan(&["inspect", &dump, "--id", value.as_str().unwrap()]).stdout).unwrap();
    assert!(array.contains("hidden (--show-values shows them)") && array.contains("via java.lang.String.value"));
    let out = dumpscan(&["inspect", &dump, "--id", value.as_str().unwrap(), "--show-values", "--top", "4"]);
    let array = String::from_utf8(out.stdout).unwrap();
    assert!(array.contains(", 4 shown)\n  [0] ") && array.contains("\n  [3] "), "{array}");

    // A class object lists its statics; an unknown id is status 4 in one line.
    let class = String::from_utf8(dumpscan(&["inspect", &dump, "--id", &holder]).stdout).unwrap();
    let class_id = class.split("class DirectBuffers (").nth(1).unwrap().split(')').next().unwrap().to_string();
    let statics = String::from_utf8(dumpscan(&["inspect", &dump, "--id", &class_id, "--top", "3"]).stdout).unwrap();
    assert!(
        statics.contains("STATIC FIELDS")
            && statics.contains("static DirectBuffers.HELD = DirectBuffers$StaticHolder@")
    );
    assert!(statics.contains("REFERRERS (") && statics.contains(", 3 shown)"), "{statics}");
    let out = dumpscan(&["inspect", &dump, "--id", "0x1"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn paths_prints_every_path_and_wraps_long_ones() {
    let dump = fixture("direct-buffers-jdk17.hprof.gz");
    let out = dumpscan(&["paths", &dump, "--class", "java.lang.String", "--top", "0", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths = doc["paths"].as_array().unwrap();
    assert!(paths.len() > 10_000 && doc["objects"] == doc["shown"] && paths.len() as u64 == doc["objects"]);
    assert!(paths.iter().all(|p| p["reachability"] != "strong" || p["path"].as_array().unwrap().len() >= 2));
    let table = |columns: &str| {
        let out = run::command(&["paths", &dump, "--class", "java.nio.DirectByteBuffer", "--top", "0"])
            .env("COLUMNS", columns)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let (narrow, wide) = (table("60"), table("1000"));
    assert_eq!(narrow.matches(" reachable)\n").count(), wide.matches(" reachable)\n").count());
    assert!(narrow.contains("\n      -> ") && !wide.contains("\n      -> "), "{narrow}");
    assert!(!narrow.contains("top 0") && !narrow.contains("objects shown"));
}

/// Every example in the README whose first line is a `$ dumpscan ...` command shows what the
/// tool prints: each run of lines between `...` markers appears, as is, in the output.
#[test]
fn readme_examples_are_what_the_tool_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut checked = 0;
    for block in readme.split("```").skip(1).step_by(2) {
        let mut lines = block.lines().skip(1);
        let Some(command) = lines.next().and_then(|l| l.strip_prefix("$ ")) else { continue };
        let words = shell_words::split(command).unwrap();
        let at = words.iter().position(|w| w == "dumpscan").expect("a dumpscan command");
        let args: Vec<&str> = words[at + 1..].iter().map(String::as_str).collect();
        let mut run = run::command(&args);
        run.current_dir(root);
        for assignment in &words[..at] {
            let (key, value) = assignment.split_once('=').unwrap();
            run.env(key, value);
        }
        let out = run.output().unwrap();
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        let printed = String::from_utf8(out.stdout).unwrap();
        let rest: Vec<&str> = lines.collect();
        for chunk in rest.split(|l| *l == "...").filter(|c| !c.is_empty()) {
            let chunk = chunk.join("\n");
            assert!(
                printed.contains(&chunk),
                "README example of `{command}` is not what it prints:\n{chunk}\n---\n{printed}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "the README has an example to check");
}

/// Chromium, which the HTML tests load reports in (`.ci/run` installs Debian's package).
fn chromium() -> &'static str {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()));
    found.expect("the HTML tests need Chromium: apt-get install chromium (.ci/run installs it)")
}

/// Loads a page in headless Chromium and returns the DOM it built.
fn dom_of(page: &Path) -> String {
    let out = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// A dump whose one direct buffer is held by a class named like markup: the page must show
/// the name as text, never as an element.
fn hostile_dump(dir: &Path) -> PathBuf {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let buffer = b.define_class(
        "java.nio.Buffer",
        Some(object),
        &[("mark", T::Int), ("position", T::Int), ("limit", T::Int), ("capacity", T::Int), ("address", T::Long)],
    );
    let bytes = b.define_class("java.nio.ByteBuffer", Some(buffer), &[("hb", T::Object), ("offset", T::Int)]);
    let mapped = b.define_class("java.nio.MappedByteBuffer", Some(bytes), &[("fd", T::Object)]);
    let direct =
        b.define_class("java.nio.DirectByteBuffer", Some(mapped), &[("cleaner", T::Object), ("att", T::Object)]);
    let held = b.instance(
        direct,
        // Own fields first, then each superclass's: cleaner, att; fd; hb, offset; mark,
        // position, limit, capacity, address.
        &[
            V::Object(0),
            V::Object(0),
            V::Object(0),
            V::Object(0),
            V::Int(0),
            V::Int(-1),
            V::Int(0),
            V::Int(4 << 20),
            V::Int(4 << 20),
            V::Long(0x7f00_0000),
        ],
    );
    let evil = b.define_class_with_statics(
        "Evil<img src=x onerror=alert(1)><script>alert(2)<",
        None,
        &[],
        &[("CACHE", V::Object(held))],
    );
    b.body().root_simple(0x05, evil.id);
    let path = dir.join("hostile.hprof");
    std::fs::write(&path, b.finish_segments(1 << 12)).unwrap();
    path
}

/// The HTML report is one self-contained page that Chromium renders: its sections, the
/// largest retainer's bytes, names from the dump as text, no script at all; small whatever
/// the dump; a screenshot kept as a test artefact.
#[test]
fn html_report_renders_in_chromium_without_running_dump_data() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out = dumpscan(&[&fixture("outbound-pileup-jdk17.hprof.gz"), "--format", "html", "-o", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"), "self-contained");
    let dom = dom_of(&page);
    for section in [
        "Overview",
        "Findings",
        "Counters kept by the process",
        "Channels with pending writes",
        "Retainers of direct memory",
    ] {
        assert!(dom.contains(&format!(">{section}</h2>")), "{section}");
    }
    assert!(dom.contains("id=\"finding-1\""), "findings can be linked");
    assert!(dom.contains("64.0 MiB (67,108,864)"), "the top retainer's bytes");
    assert!(dom.contains("<details>"), "full paths fold under their short form");

    // A screenshot, for a person to look at: target/test-artifacts/report.png.
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report.png");
    let out = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2000"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success() && std::fs::metadata(&shot).unwrap().len() > 10_000, "{}", stderr(&out));

    // Markup in a class name stays text.
    let hostile = hostile_dump(dir.path());
    let page = dir.path().join("hostile.html");
    let out = dumpscan(&[hostile.to_str().unwrap(), "--format", "html", "-o", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dom = dom_of(&page);
    assert!(dom.contains("static Evil&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;.CACHE"), "{dom}");
    assert!(!dom.contains("<img") && !dom.contains("<script"), "no element from the dump");
    assert!(dom.contains("4.0 MiB (4,194,304)"), "the buffer the class holds");

    // Small whatever the dump: every row of every table.
    let page = dir.path().join("all.html");
    let out = dumpscan(&[
        &fixture("lettuce-6.6-jdk25.hprof.gz"),
        "--format",
        "html",
        "--top",
        "0",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::metadata(&page).unwrap().len() < 2 << 20, "under 2 MB");
}

/// `diff` reads a dump or a saved report on either side, and says the same either way.
#[test]
fn diff_reads_dumps_and_saved_reports_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (fixture("netty-pooled-jdk17.hprof.gz"), fixture("netty-pooled-noclean-jdk17.hprof.gz"));
    let saved = |dump: &str, name: &str| {
        let path = dir.path().join(name).display().to_string();
        let out = dumpscan(&[dump, "--format", "json", "-o", &path]);
        assert!(out.status.success(), "{}", stderr(&out));
        path
    };
    let (old_json, new_json) = (saved(&old, "old.json"), saved(&new, "new.json"));
    let diff = |a: &str, b: &str| {
        let out = dumpscan(&["diff", a, b, "--format", "json"]);
        assert!(out.status.success(), "{a} {b}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let dumps = diff(&old, &new);
    assert_eq!(diff(&old_json, &new_json), dumps, "report/report");
    assert_eq!(diff(&old_json, &new), dumps, "report/dump");
    assert_eq!(diff(&old, &new_json), dumps, "dump/report");
    let doc: serde_json::Value = serde_json::from_str(&dumps).unwrap();
    assert_eq!(doc["schema"], "dumpscan.diff.v1");
    assert_eq!(doc["old"]["path"], old.as_str());
    assert_eq!(doc["counters"]["netty"]["used"]["old"], serde_json::Value::Null);
    let owned = &doc["direct_buffers"]["owned"];
    assert_eq!(
        owned["delta_bytes"].as_i64(),
        Some(owned["new"]["bytes"].as_i64().unwrap() - owned["old"]["bytes"].as_i64().unwrap())
    );

    // A dump against itself: every change is 0.
    let same: serde_json::Value = serde_json::from_str(&diff(&new, &new_json)).unwrap();
    let retainers = same["retainers"].as_array().unwrap();
    assert!(!retainers.is_empty() && retainers.iter().all(|r| r["delta"] == 0 && r["old_bytes"] == r["new_bytes"]));
    assert_eq!(same["findings"], serde_json::json!([]));

    // A JSON file that is no report, or a report of another version: status 3, naming the file.
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"schema": "dumpscan.report.v2"}"#).unwrap();
    let out = dumpscan(&["diff", &old_json, other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("dumpscan: {}: ", other.display())) && err.contains("dumpscan.report.v1"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = dumpscan(&["diff", "/nonexistent/old.hprof", &new]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/old.hprof"), "{}", stderr(&out));

    // A malformed dump on one side (analysed in a child process): its status and one line
    // naming it, said once.
    let broken = dir.path().join("broken.hprof");
    std::fs::write(&broken, b"not a heap dump at all").unwrap();
    let out = dumpscan(&["diff", &old_json, broken.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("dumpscan: {}: ", broken.display())), "{err}");
}

/// The diff as text fits the width like the report, and as Markdown parses into its tables.
#[test]
fn diff_fits_the_width_and_its_markdown_has_its_tables() {
    use pulldown_cmark::{Event, Options as Md, Parser, Tag};
    let (old, new) = (fixture("outbound-pileup-jdk17.hprof.gz"), fixture("allocation-in-progress-jdk17.hprof.gz"));
    for columns in ["80", "120"] {
        let out = run::command(&["diff", &old, &new, "--top", "0"]).env("COLUMNS", columns).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let width: usize = columns.parse().unwrap();
        let long: Vec<&str> = text.lines().filter(|l| l.chars().count() > width).collect();
        assert!(long.is_empty(), "{columns} columns: {long:#?}");
        assert!(text.contains("1. A new retainer holds 64.0 MiB"), "{text}");
    }
    let out = dumpscan(&["diff", &old, &new, "--format", "markdown"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let tables = Parser::new_ext(&text, Md::ENABLE_TABLES).filter(|e| matches!(e, Event::Start(Tag::Table(_)))).count();
    assert!(tables >= 4, "counters, buffers, arenas, retainers: {text}");
    assert!(text.starts_with("# off-heap memory from "), "{text}");
    assert!(text.contains("| # | old | new | change | buffers | kind | GC root and path |"), "{text}");
}

/// `diff --format html` is the same kind of page: Chromium renders its sections and the
/// holder that grew, with no script.
#[test]
fn diff_as_html_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("diff.html");
    let (old, new) = (fixture("diff-pair-jdk17-old.hprof.gz"), fixture("diff-pair-jdk17-new.hprof.gz"));
    let out = dumpscan(&["diff", &old, &new, "--format", "html", "-o", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dom = dom_of(&page);
    assert!(dom.contains(">Findings</h2>") && dom.contains("id=\"finding-1\""), "{dom}");
    assert!(dom.contains("static DiffPair.GROWING grew by 30.0 MiB"), "the holder that grew");
    assert!(dom.contains("nothing in its 1 arena in either dump"), "an unused allocator is one sentence");
    assert!(!dom.contains("<script"), "no script");
}

/// `--nmt` and `--proc` beside a dump: the native section fits the width like every table, is
/// in the JSON and the Markdown; a file that is not what it should be fails at once, in one
/// line naming it and its line.
#[test]
fn report_with_nmt_and_proc_fits_the_width_and_bad_files_fail_in_one_line() {
    let dump = fixture("native-jdk25.hprof.gz");
    let nmt = fixture("native-jdk25.nmt-summary.txt");
    let (status, rollup) = (fixture("native-jdk25.status"), fixture("native-jdk25.smaps_rollup"));
    let native = ["--nmt", &nmt, "--proc", &status, &rollup];
    for columns in ["120", "80"] {
        let out = run::command(&[&dump])
            .args(native)
            .args(["--no-dominators", "--top", "0"])
            .env("COLUMNS", columns)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let width: usize = columns.parse().unwrap();
        let long: Vec<&str> = text.lines().filter(|l| l.chars().count() > width).collect();
        assert!(long.is_empty(), "at {columns} columns: {long:#?}");
        assert!(text.contains("NATIVE MEMORY (NMT AND /PROC)"), "{text}");
        assert!(text.contains("not tracked by NMT") && text.contains("Shared class space"), "{text}");
        assert!(text.contains("NMT's \"Other\" holds 24.0 MiB that no counter in the dump explains"), "{text}");
    }
    let json = dumpscan(&[&dump, "--format", "json", "--no-dominators", "--nmt", &nmt, "--proc", &status]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let native_json = &doc["native"];
    let rss = native_json["rss"].as_i64().unwrap();
    let parts: i64 = native_json["breakdown"].as_array().unwrap().iter().map(|p| p["bytes"].as_i64().unwrap()).sum();
    assert_eq!(parts, rss, "the parts add up to the RSS");
    let heap = native_json["nmt"]["categories"].as_array().unwrap().iter().find(|c| c["category"] == "Java Heap");
    assert_eq!(heap.unwrap()["committed"], 64 << 20);
    assert!(native_json["breakdown"].as_array().unwrap().iter().any(|p| p["source"] == "dump"));
    let plain = dumpscan(&[&dump, "--format", "json", "--no-dominators"]);
    let plain: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert!(plain["native"].is_null(), "null when neither is given");
    let md = dumpscan(&[&dump, "--format", "markdown", "--no-dominators", "--nmt", &nmt]);
    assert!(String::from_utf8(md.stdout).unwrap().contains("## Native memory (NMT and /proc)"));
    let page_dir = tempfile::tempdir().unwrap();
    let page = page_dir.path().join("native.html");
    let out = dumpscan(&[
        &dump,
        "--format",
        "html",
        "--no-dominators",
        "--nmt",
        &nmt,
        "--proc",
        &status,
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dom = dom_of(&page);
    assert!(dom.contains(">Native memory (NMT and /proc)</h2>") && dom.contains("not tracked by NMT"), "{dom}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("nmt.txt");
    let mut broken = std::fs::read_to_string(&nmt).unwrap();
    broken = broken.replacen("Other (reserved=", "Other (reserved=x", 1);
    std::fs::write(&bad, &broken).unwrap();
    let line = broken.lines().position(|l| l.contains("reserved=x")).unwrap() + 1;
    let out = dumpscan(&[&dump, "--nmt", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains(&format!("{}: line {line}: reserved=x", bad.display())), "{message}");
    let out = dumpscan(&[&dump, "--proc", &nmt]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("neither /proc/PID/status"), "{}", stderr(&out));
    let out = dumpscan(&[&dump, "--nmt", dir.path().join("missing.txt").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.txt"), "{}", stderr(&out));
}

/// A gzip stream of `len` zero bytes, built by hand: one fixed-Huffman deflate block of a
/// literal zero and copies of the byte before. What a gzip bomb is, made in a moment.
fn zeros_gzip(len: u64, crc: u32) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `count` bits of `value`, least significant first (deflate's order for headers).
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, count: u32) {
            let reversed = (0..count).fold(0, |r, i| r | ((code >> i) & 1) << (count - 1 - i));
            self.put(reversed, count);
        }
    }
    let mut bits = Bits { out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], acc: 0, n: 0 };
    bits.put(1, 1); // the last block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // literal 0
    let mut left = len - 1;
    while left >= 258 {
        bits.code(0xC5, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block
    bits.put(0, 7);
    let mut out = bits.out;
    out.extend(crc.to_le_bytes());
    out.extend((len as u32).to_le_bytes());
    out
}

/// Runs dumpscan and samples its peak resident memory (VmHWM) while it runs.
fn dumpscan_peak(args: &[&str]) -> (Output, u64) {
    let child = spawn_piped(args, std::process::Stdio::null());
    let status = format!("/proc/{}/status", child.id());
    let peak = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0u64;
            while let Ok(text) = std::fs::read_to_string(&status) {
                let hwm = text.lines().find(|l| l.starts_with("VmHWM:"));
                match hwm.and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<u64>().ok()) {
                    Some(kib) => peak = peak.max(kib << 10),
                    None => break,
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak
        });
        let out = child.wait_with_output().unwrap();
        (out, sampler.join().unwrap())
    });
    (peak.0, peak.1)
}

#[test]
#[cfg(target_os = "linux")]
fn a_gzip_bomb_is_inflated_into_a_file_not_memory() {
    // 384 MiB of zeros from 3 MB: its trailer says more than is ever inflated into memory.
    let len = 384u64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.hprof.gz");
    std::fs::write(&bomb, zeros_gzip(len, 0x51e9_6494)).unwrap();
    let bomb = bomb.to_str().unwrap();
    let (out, peak) = dumpscan_peak(&["-v", "info", bomb]);
    let err = stderr(&out);
    assert!(err.contains("inflating gzip dump into a temporary file (its trailer says 384.0 MiB)"), "{err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("not an HPROF heap dump"), "{err}");
    assert!(peak > 0 && peak < 128 << 20, "peak resident memory {} MiB", peak >> 20);

    // A temporary file that cannot grow (here a file size limit; a full disk alike) is an
    // I/O error that says so, not a malformed dump.
    let limited = Command::new("bash")
        .args(["-c", "trap '' XFSZ; ulimit -f 4096; exec \"$0\" info \"$1\"", env!("CARGO_BIN_EXE_dumpscan"), bomb])
        .output()
        .unwrap();
    let err = stderr(&limited);
    assert_eq!(limited.status.code(), Some(1), "{err}");
    assert!(err.contains("writing the inflated dump to a temporary file in") && err.contains("too large"), "{err}");
}

#[test]
fn gzip_is_inflated_quietly_and_jcmd_members_in_parallel() {
    let dump = fixture("order-service-jdk25-jcmd.hprof.gz");
    let quiet = dumpscan(&["info", &dump, "--no-threads"]);
    assert!(quiet.status.success() && stderr(&quiet).is_empty(), "{}", stderr(&quiet));
    let verbose = dumpscan(&["-v", "info", &dump, "--no-threads"]);
    let err = stderr(&verbose);
    assert!(err.contains("inflating gzip dump: 19 members of up to 1.0 MiB in parallel into memory"), "{err}");
    assert!(!err.contains("in turn"), "{err}");
    assert_eq!(verbose.stdout, quiet.stdout);
}

/// Real applications' dumps, written by `jcmd PID GC.heap_dump -gz=1` (members of many sizes):
/// inflated in parallel, never in turn.
#[test]
fn real_applications_jcmd_dumps_inflate_in_parallel() {
    for name in
        ["zookeeper-3.8-jdk17", "zookeeper-3.8-jdk25", "async-http-client-2.12-jdk17", "async-http-client-2.12-jdk25"]
    {
        let verbose = dumpscan(&["-v", "info", &fixture(&format!("{name}.hprof.gz")), "--no-threads"]);
        let err = stderr(&verbose);
        assert!(verbose.status.success(), "{name}: {err}");
        assert!(err.contains(" members of up to 1.0 MiB in parallel into memory"), "{name}: {err}");
        assert!(!err.contains("in turn"), "{name}: {err}");
    }
}

#[test]
fn zero_padding_after_a_gzip_dump_is_accepted_and_damage_named_by_offsets() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["direct-buffers-jdk17.hprof.gz", "order-service-jdk25-jcmd.hprof.gz"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let padded = dir.path().join(format!("padded-{name}"));
        let mut with_zeros = bytes.clone();
        with_zeros.extend([0u8; 4096]);
        std::fs::write(&padded, with_zeros).unwrap();
        let out = dumpscan(&["-v", "histogram", padded.to_str().unwrap(), "--top", "3"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(!stderr(&out).contains("in turn"), "{name}: {}", stderr(&out));

        let damaged = dir.path().join(format!("damaged-{name}"));
        let mut broken = bytes.clone();
        let middle = broken.len() / 2;
        broken[middle..middle + 64].fill(0xA5);
        std::fs::write(&damaged, broken).unwrap();
        let out = dumpscan(&["info", damaged.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains("of the compressed file (byte offset ") && err.contains(" of the inflated dump)"),
            "{err}"
        );
        assert!(!err.contains("at byte 0 of"), "{err}");
    }
}

/// Under a small `--max-memory` the model's large arrays live in files in `--temp-dir`, and
/// every command says the same as with all of them in memory; a folder that cannot hold a
/// temporary file fails at once.
#[test]
fn past_the_memory_budget_arrays_go_to_files_and_the_output_is_the_same() {
    let dump = fixture("netty-pooled-jdk17.hprof.gz");
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    for args in
        [vec!["report", "--format", "json"], vec!["dominators", "--format", "json"], vec!["histogram", "--retained"]]
    {
        let plain = dumpscan(&[&args[..1], &[dump.as_str()], &args[1..]].concat());
        let small =
            [&args[..1], &[dump.as_str(), "-v", "--max-memory", "1M", "--temp-dir", folder], &args[1..]].concat();
        let spilled = dumpscan(&small);
        assert!(spilled.status.success(), "{}", stderr(&spilled));
        assert_eq!(spilled.stdout, plain.stdout, "{args:?}");
        let err = stderr(&spilled);
        assert!(err.contains("memory budget 1.0 MiB (--max-memory)") && err.contains("in files at the most"), "{err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "unlinked files leave nothing behind");
    let out = dumpscan(&[&dump, "--temp-dir", "/nonexistent/folder"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("dumpscan: --temp-dir /nonexistent/folder: cannot make a temporary file"));
}
