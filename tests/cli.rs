//! The `dumpscan` command as a user runs it: outputs, exit statuses, bad and partial input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

fn dumpscan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dumpscan")).args(args).output().expect("runs")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).display().to_string()
}

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

#[test]
fn report_as_markdown_is_ready_for_a_ticket() {
    let out = dumpscan(&[&fixture("direct-buffers-jdk25.hprof.gz"), "--format", "markdown"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# off-heap memory in "));
    assert!(text.contains("\n## Findings\n") && text.contains("\n## Retainers of direct memory\n"));
    assert!(text.contains("| `static DirectBuffers.CACHE` "), "{text}");
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
