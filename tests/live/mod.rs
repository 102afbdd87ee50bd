//! `capture` and `watch` on live JVMs: JDK 17 (`java` on the path) and Temurin 25, running
//! `WatchedService.java` beside this file with Netty's jars from Debian's libnetty-java.
//! `.ci/run` installs what is missing; a missing JVM or jar fails the test, never skips it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use super::run::{dumpscan, stderr};

const TEMURIN_25: &str = "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java";
const NETTY_JARS: [&str; 2] = ["/usr/share/java/netty-buffer.jar", "/usr/share/java/netty-common.jar"];

/// The JVMs the tests run on.
#[derive(Clone, Copy, Debug)]
enum Jdk {
    Jdk17,
    Temurin25,
}

impl Jdk {
    fn java(self) -> PathBuf {
        let java = match self {
            Jdk::Jdk17 => which("java").expect("java (JDK 17) on the path: .ci/run installs openjdk-17-jdk-headless"),
            Jdk::Temurin25 => PathBuf::from(TEMURIN_25),
        };
        assert!(java.exists(), "{} is missing", java.display());
        java
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// What the program's BufferPoolMXBean("direct") said once it held its buffers.
#[derive(Debug, Clone, Copy)]
struct Pool {
    count: u64,
    capacity: u64,
    used: u64,
}

/// A running WatchedService, killed when dropped.
struct Service {
    child: Child,
    lines: Receiver<String>,
    ready: Pool,
}

impl Service {
    /// Starts the program with NMT on (unless `nmt` is false) and waits for its READY line.
    fn start(jdk: Jdk, mode: &str, nmt: bool, wrapper: &[&str]) -> Service {
        for jar in NETTY_JARS {
            assert!(Path::new(jar).exists(), "{jar} is missing: .ci/run installs libnetty-java");
        }
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/live/WatchedService.java");
        let mut command = Command::new(wrapper.first().copied().unwrap_or(jdk.java().to_str().unwrap()));
        if !wrapper.is_empty() {
            command.args(&wrapper[1..]).arg(jdk.java());
        }
        if nmt {
            command.arg("-XX:NativeMemoryTracking=summary");
        }
        // A process group of its own: the JVM and any wrapper around it are ended together.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .args(["-Xmx256m", "-XX:MaxDirectMemorySize=128m", "-cp", &NETTY_JARS.join(":")])
            .arg(source)
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starts java");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("the program says READY");
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {line}"))
        };
        assert!(line.starts_with("READY"), "{line}");
        let ready = Pool { count: field("count"), capacity: field("capacity"), used: field("used") };
        Service { child, lines, ready }
    }

    /// The JVM's pid as seen here: the child itself, or the JVM below a wrapper.
    fn jvm_pid(&self) -> u32 {
        let mut pid = self.child.id();
        for _ in 0..4 {
            if std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|m| m.contains("libjvm.so")) {
                return pid;
            }
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
            pid = children.split_whitespace().next().and_then(|p| p.parse().ok()).expect("a child process");
        }
        panic!("no JVM below {}", self.child.id());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SAFETY: kill only sends a signal; the group is the one the child leads.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Runs dumpscan, killed and failed after `limit`: `watch` waits for as long as it takes.
fn dumpscan_within(args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = super::run::spawn_piped(args, Stdio::null());
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("dumpscan {args:?} still running after {limit:?}: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn report_in(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).unwrap()
}

/// NMT's "Other" as `jcmd` itself prints it, in bytes.
fn jcmd_other(jdk: Jdk, pid: u32) -> u64 {
    let jcmd = jdk.java().with_file_name("jcmd");
    let out = Command::new(jcmd).arg(pid.to_string()).arg("VM.native_memory").arg("summary").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("Other (")).unwrap_or_else(|| panic!("{text}"));
    let committed = line.split("committed=").nth(1).unwrap();
    let kb: u64 = committed.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().unwrap();
    kb * 1024
}

fn nmt_committed(report: &serde_json::Value, category: &str) -> u64 {
    let categories = report["native"]["nmt"]["categories"].as_array().expect("native.nmt.categories");
    let found = categories.iter().find(|c| c["category"] == category).unwrap_or_else(|| panic!("{category}"));
    found["committed"].as_u64().unwrap()
}

fn capture_matches_what_the_process_saw(jdk: Jdk) {
    let service = Service::start(jdk, "hold", true, &[]);
    let pid = service.jvm_pid();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("capture");
    let out = dumpscan(&["capture", &pid.to_string(), "-o", target.to_str().unwrap(), "--no-dominators"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{jdk:?}: {err}");
    assert!(err.contains("the JVM stops while its whole heap is written"), "the pause is said first: {err}");
    let names: Vec<String> =
        std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n.contains("hprof")) && names.iter().any(|n| n.contains("nmt")), "{names:?}");

    let report = report_in(&target);
    let jdk_counter = &report["counters"]["jdk"];
    assert_eq!(jdk_counter["count"].as_u64(), Some(service.ready.count), "{jdk:?}");
    assert_eq!(jdk_counter["total_capacity"].as_u64(), Some(service.ready.capacity), "{jdk:?}");
    assert_eq!(jdk_counter["reserved"].as_u64(), Some(service.ready.used), "{jdk:?}");
    assert_eq!(jdk_counter["max"].as_u64(), Some(128 << 20), "{jdk:?}");
    // The process is idle: NMT's figures are jcmd's own.
    assert_eq!(nmt_committed(&report, "Other"), jcmd_other(jdk, pid), "{jdk:?}");
    assert!(report["native"]["rss"].as_u64().is_some_and(|rss| rss > service.ready.used), "{jdk:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("HELD"), "the terminal report names the holder");

    // A folder holding a capture is not overwritten.
    let again = dumpscan(&["capture", &pid.to_string(), "-o", target.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(stderr(&again).lines().count(), 1, "{}", stderr(&again));
}

#[test]
fn capture_of_a_live_jdk17_matches_what_the_process_saw() {
    capture_matches_what_the_process_saw(Jdk::Jdk17);
}

#[test]
fn capture_of_a_live_temurin25_matches_what_the_process_saw() {
    capture_matches_what_the_process_saw(Jdk::Temurin25);
}

fn watch_captures_before_the_limit(jdk: Jdk) {
    let service = Service::start(jdk, "grow", true, &[]);
    let pid = service.jvm_pid();
    let dir = tempfile::tempdir().unwrap();
    let out = dumpscan_within(
        &[
            "watch",
            &pid.to_string(),
            "--direct-above",
            "50%",
            "--interval",
            "100ms",
            "-o",
            dir.path().to_str().unwrap(),
            "--no-dominators",
        ],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{jdk:?}: {}", stderr(&out));
    assert!(stderr(&out).contains("of 128.0 MiB (-XX:MaxDirectMemorySize)"), "{}", stderr(&out));
    let report = report_in(dir.path());
    // Captured once NMT's "Other" reached half of the 128 MiB limit, before the program
    // stopped growing at 120 MiB.
    assert!(nmt_committed(&report, "Other") >= 64 << 20, "{jdk:?}");
    let reserved = report["counters"]["jdk"]["reserved"].as_u64().unwrap();
    assert!((60 << 20..=120 << 20).contains(&reserved), "{jdk:?}: {reserved}");
    let grew = service.lines.try_iter().count();
    assert!(grew > 0, "the program grew while watched");
}

#[test]
fn watch_of_a_live_jdk17_captures_at_the_threshold() {
    watch_captures_before_the_limit(Jdk::Jdk17);
}

#[test]
fn watch_of_a_live_temurin25_captures_at_the_threshold() {
    watch_captures_before_the_limit(Jdk::Temurin25);
}

/// `--rss-above` reads /proc and needs no NMT; `--direct-above` without NMT says what to do.
#[test]
fn watch_by_rss_and_without_nmt() {
    let service = Service::start(Jdk::Jdk17, "hold", false, &[]);
    let pid = service.jvm_pid().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dumpscan_within(
        &["watch", &pid, "--direct-above", "80", "-o", dir.path().to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("-XX:NativeMemoryTracking=summary"), "{}", stderr(&out));
    let out = dumpscan_within(
        &["watch", &pid, "--rss-above", "1MiB", "-o", dir.path().to_str().unwrap(), "--no-dominators"],
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("native memory tracking is off"), "{err}");
    let report = report_in(dir.path());
    assert_eq!(report["counters"]["jdk"]["reserved"].as_u64(), Some(service.ready.used));
    assert!(report["native"]["nmt"].is_null(), "no NMT in this JVM");
}

/// A JVM of another user is captured by root: the JVM writes its dump into a folder given
/// to its user. A JVM in its own mount and pid namespaces with a private /tmp (as in a
/// container) is reached through /proc/PID/root, by the pid it knows itself by.
#[test]
fn capture_of_a_jvm_of_another_user_and_in_a_container() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "these tests run as root (CI does)");
    let other_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    let container = [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--mount-proc",
        "sh",
        "-c",
        "mount -t tmpfs tmpfs /tmp && exec \"$0\" \"$@\"",
    ];
    for wrapper in [&other_user[..], &container[..]] {
        let service = Service::start(Jdk::Jdk17, "hold", true, wrapper);
        let pid = service.jvm_pid();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("capture");
        let out = dumpscan(&["capture", &pid.to_string(), "-o", target.to_str().unwrap(), "--no-dominators"]);
        assert!(out.status.success(), "{}: {}", wrapper[0], stderr(&out));
        let report = report_in(&target);
        assert_eq!(report["counters"]["jdk"]["reserved"].as_u64(), Some(service.ready.used), "{}", wrapper[0]);
        let left: Vec<_> = std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(!left.iter().any(|n| n.to_string_lossy().starts_with(".dumpscan")), "{left:?}");
    }
}

/// A process that is no JVM, and one that does not exist: status 4, one line.
#[test]
fn capture_of_what_is_no_jvm() {
    let dir = tempfile::tempdir().unwrap();
    for pid in [std::process::id().to_string(), "4194303".to_string()] {
        let out = dumpscan(&["capture", &pid, "-o", dir.path().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
}
