//! Asks a running HotSpot JVM to run a diagnostic command, as `jcmd PID COMMAND` does, through
//! the JVM's attach mechanism on Linux: a Unix socket the JVM opens in its temporary directory
//! once it is sent `SIGQUIT` beside a trigger file.
//!
//! Speaking the protocol here rather than starting the JDK's `jcmd` means no JDK is needed
//! where only a JRE runs, no second JVM is started on a machine short of memory, a poll costs
//! a socket round trip instead of a JVM start, and a JVM in a container is reached through
//! `/proc/PID/root` with the pid it knows itself by.
#![warn(missing_docs)]

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a JVM could not be asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// No process has this pid (or it is not visible from here).
    #[error("no process {0}")]
    NoProcess(u32),
    /// The process runs no HotSpot JVM (`libjvm.so` is not mapped in it).
    #[error("process {pid} ({exe}) is not a HotSpot JVM")]
    NotAJvm {
        /// The process.
        pid: u32,
        /// Its executable, as `/proc/PID/exe` names it.
        exe: String,
    },
    /// This user may not look into or signal the process.
    #[error("not allowed to attach to process {pid} (run as its user, uid {uid}, or as root): {source}")]
    Permission {
        /// The process.
        pid: u32,
        /// The process's user.
        uid: u32,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The JVM did not open its attach socket in time: started with
    /// `-XX:+DisableAttachMechanism`, too busy (a long GC), or its `/tmp` is not shared.
    #[error(
        "process {pid} did not answer the attach request within {} s (is it started with \
         -XX:+DisableAttachMechanism, or stopped?)",
        waited.as_secs()
    )]
    NoAnswer {
        /// The process.
        pid: u32,
        /// How long it was waited for.
        waited: Duration,
    },
    /// The JVM ran the command and reports that it failed.
    #[error("the JVM refused `{command}`: {message}")]
    Refused {
        /// The command.
        command: String,
        /// The JVM's message.
        message: String,
    },
    /// Reading or writing the socket, or the files under `/proc`, failed.
    #[error("attaching to process {pid}: {source}")]
    Io {
        /// The process.
        pid: u32,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// A running JVM, found by its pid as seen from here.
#[derive(Debug, Clone)]
pub struct Jvm {
    pid: u32,
    /// The pid the process has in its own pid namespace (the last `NSpid` in its status):
    /// the JVM names its socket with this one.
    ns_pid: u32,
    uid: u32,
    gid: u32,
    exe: PathBuf,
}

/// The protocol version every HotSpot since JDK 6 accepts.
const PROTOCOL_VERSION: &str = "1";

impl Jvm {
    /// The JVM with this pid: the process must exist and have `libjvm.so` mapped.
    pub fn find(pid: u32) -> Result<Jvm, AttachError> {
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let status = std::fs::read_to_string(proc_dir.join("status")).map_err(|_| AttachError::NoProcess(pid))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|rest| rest.split_whitespace().filter_map(|n| n.parse::<u32>().ok()).collect::<Vec<u32>>())
        };
        // Uid and Gid list real, effective, saved and file-system ids: the effective one counts.
        let uid = field("Uid:").and_then(|ids| ids.get(1).copied()).unwrap_or(0);
        let gid = field("Gid:").and_then(|ids| ids.get(1).copied()).unwrap_or(0);
        let ns_pid = field("NSpid:").and_then(|ids| ids.last().copied()).unwrap_or(pid);
        let permission = |source| AttachError::Permission { pid, uid, source };
        let exe = std::fs::read_link(proc_dir.join("exe")).map_err(permission)?;
        let maps = std::fs::read_to_string(proc_dir.join("maps")).map_err(permission)?;
        if !maps.lines().any(|l| l.ends_with("/libjvm.so")) {
            return Err(AttachError::NotAJvm { pid, exe: exe.display().to_string() });
        }
        Ok(Jvm { pid, ns_pid, uid, gid, exe })
    }

    /// The pid, as seen from here.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The user the JVM runs as (effective uid and gid).
    pub fn owner(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }

    /// The JVM's executable, as `/proc/PID/exe` names it (inside its own file system).
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// Whether the JVM sees the same files as this process: false in a container with its
    /// own mount namespace, whose paths are reached from here under [`Jvm::root`].
    pub fn shares_files(&self) -> bool {
        let ns = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
        ns("/proc/self/ns/mnt").is_some() && ns("/proc/self/ns/mnt") == ns(&format!("/proc/{}/ns/mnt", self.pid))
    }

    /// The JVM's root directory seen from here (`/proc/PID/root`): a path the JVM knows as
    /// `/tmp/x` is `root()/tmp/x` here.
    pub fn root(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid))
    }

    /// Runs a diagnostic command (`jcmd PID COMMAND`'s COMMAND, such as `VM.flags` or
    /// `GC.heap_dump -gz=1 /tmp/x.hprof.gz`) and returns what it printed. Waits for the
    /// JVM's attach listener for at most `timeout` when it is not running yet; the command
    /// itself may take as long as it takes (a heap dump does).
    pub fn jcmd(&self, command: &str, timeout: Duration) -> Result<String, AttachError> {
        let socket = self.listener(timeout)?;
        let io = |source| AttachError::Io { pid: self.pid, source };
        let mut stream = UnixStream::connect(&socket).map_err(io)?;
        // A request is the protocol version, the operation and three arguments, each ended
        // by a NUL; `jcmd` takes the whole command line as its first argument.
        let mut request = Vec::new();
        for part in [PROTOCOL_VERSION, "jcmd", command, "", ""] {
            request.extend_from_slice(part.as_bytes());
            request.push(0);
        }
        stream.write_all(&request).map_err(io)?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).map_err(io)?;
        let reply = String::from_utf8_lossy(&reply);
        // The reply is the operation's status on its own line, then what the command printed.
        let (status, output) = reply.split_once('\n').unwrap_or((reply.as_ref(), ""));
        match status.trim() {
            "0" => Ok(output.to_string()),
            _ => Err(AttachError::Refused { command: command.to_string(), message: output.trim().to_string() }),
        }
    }

    /// The attach socket, started first if it is not open: a trigger file in the JVM's
    /// working directory (or its temporary directory) and `SIGQUIT`, then a wait for the
    /// socket. Without the trigger file the JVM would take `SIGQUIT` as a request for a
    /// thread dump on its standard output.
    fn listener(&self, timeout: Duration) -> Result<PathBuf, AttachError> {
        let tmp = self.root().join("tmp");
        let socket = tmp.join(format!(".java_pid{}", self.ns_pid));
        if is_socket(&socket) {
            return Ok(socket);
        }
        let trigger_name = format!(".attach_pid{}", self.ns_pid);
        let in_cwd = PathBuf::from(format!("/proc/{}/cwd", self.pid)).join(&trigger_name);
        let trigger = match std::fs::File::create(&in_cwd) {
            Ok(_) => in_cwd,
            Err(_) => {
                let in_tmp = tmp.join(&trigger_name);
                std::fs::File::create(&in_tmp).map_err(|source| AttachError::Permission {
                    pid: self.pid,
                    uid: self.uid,
                    source,
                })?;
                in_tmp
            }
        };
        let result = self.signal_and_wait(&socket, timeout);
        let _ = std::fs::remove_file(&trigger);
        result.map(|()| socket)
    }

    fn signal_and_wait(&self, socket: &Path, timeout: Duration) -> Result<(), AttachError> {
        let pid = libc::pid_t::try_from(self.pid).map_err(|_| AttachError::NoProcess(self.pid))?;
        // SAFETY: kill has no memory effects; it only sends a signal to the process.
        if unsafe { libc::kill(pid, libc::SIGQUIT) } != 0 {
            let source = std::io::Error::last_os_error();
            return Err(AttachError::Permission { pid: self.pid, uid: self.uid, source });
        }
        let start = Instant::now();
        let mut pause = Duration::from_millis(20);
        while start.elapsed() < timeout {
            if is_socket(socket) {
                return Ok(());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
        Err(AttachError::NoAnswer { pid: self.pid, waited: timeout })
    }
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_without_a_jvm_is_named_as_such() {
        match Jvm::find(std::process::id()) {
            Err(AttachError::NotAJvm { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_process_is_said_to_be_missing() {
        // Pids stop below 2^22 on Linux.
        assert!(matches!(Jvm::find(u32::MAX - 1), Err(AttachError::NoProcess(_))));
    }
}
