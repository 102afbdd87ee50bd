//! Running the `dumpscan` binary from the tests: one way to start it, to pipe its output and
//! to read what it said, for every test module.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The `dumpscan` binary with `args`, to add to (environment, folder, stdio) before running.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dumpscan"));
    command.args(args);
    command
}

/// Runs dumpscan to its end, its output collected.
pub fn dumpscan(args: &[&str]) -> Output {
    command(args).output().expect("runs")
}

/// Starts dumpscan with its stdout and stderr piped to the test, stdin as `stdin` says.
pub fn spawn_piped(args: &[&str], stdin: Stdio) -> Child {
    command(args).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starts")
}

/// What dumpscan said on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A shipped dump or its expected figures, in `fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// [`fixture_path`] as a command-line argument.
pub fn fixture(name: &str) -> String {
    fixture_path(name).display().to_string()
}
