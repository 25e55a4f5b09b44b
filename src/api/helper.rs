//! Site mode's helper process (server only). keyhatch runs as root there, but never opens a
//! person's file as root: each operation runs in a child started from keyhatch's own binary,
//! which first takes the person's supplementary groups, gid and uid (`setgroups`, `setresgid`,
//! `setresuid`), proves it cannot get root back, and only then opens anything. So NFS with
//! `root_squash` works, and a symbolic link the person planted reaches only what the person
//! could reach anyway. The threaded server never changes its own ids (glibc would apply
//! `seteuid` to every thread, and tokio moves tasks between threads).
//!
//! One helper per request: the job goes in on standard input as one JSON line, the answer
//! comes back on standard output; nothing else crosses. [`Runner`] starts them, each within a
//! bound on its time and its person's operations under way.

mod runner;

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use nix::unistd::{Gid, Uid};
use serde::{Deserialize, Serialize};

use super::backend::{Request, execute};
use crate::error::AppError;
use crate::ssh::KeysFile;

pub use runner::Runner;

/// The first argument that makes keyhatch's binary a helper.
pub const HELPER_ARG: &str = "__keyhatch_helper";

/// The person a helper works for, as the system's user database has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The login name.
    pub user: String,
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// Every group the person is in, the primary one included.
    pub groups: Vec<u32>,
    /// The home directory.
    pub home: PathBuf,
}

/// A helper to start for one person, with the limits of their file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Helper {
    /// Who.
    pub identity: Identity,
    /// The largest `authorized_keys` read or written.
    pub max_file_size: u64,
    /// How long to wait for another program's lock.
    pub lock_timeout: Duration,
    /// The most keyhatch keys the person's file may hold.
    pub max_keys: Option<usize>,
    /// Where keys go below the home (`AuthorizedKeysFile`, `%h`/`%u` not yet expanded).
    pub keys_file: String,
}

/// What the server sends a helper.
#[derive(Serialize, Deserialize)]
struct Job {
    helper: Helper,
    request: Request,
}

/// Whether a tracer is attached to this process (`TracerPid` of `/proc/self/status`); an
/// unreadable status counts as traced.
fn traced() -> bool {
    std::fs::read_to_string("/proc/self/status").map_or(true, |status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .is_none_or(|pid| pid.trim() != "0")
    })
}

fn failed(why: String) -> AppError {
    AppError::Storage(format!("keyhatch's helper failed: {why}"))
}

/// The helper's whole life, in the child: read the job, become the person, run it, answer.
pub fn serve_one() -> ExitCode {
    // A core dump would hold whatever the helper read (it is never given a secret, but a
    // person's file is theirs alone).
    let no_core = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Core, no_core);
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line).is_err() {
        return ExitCode::FAILURE;
    }
    let answer = match serde_json::from_str::<Job>(&line) {
        Ok(job) => become_person(&job.helper.identity).and_then(|()| {
            let id = &job.helper.identity;
            let store = KeysFile::parse(&job.helper.keys_file)
                .ok()
                .and_then(|f| f.of(&id.home, &id.user))
                .ok_or_else(|| failed(format!("no keys file below {}", id.home.display())))?
                .with_max_size(job.helper.max_file_size)
                .with_lock_timeout(job.helper.lock_timeout);
            execute(&store, id.uid, job.request)
        }),
        Err(e) => Err(failed(format!("unreadable job: {e}"))),
    };
    let Ok(bytes) = serde_json::to_vec(&answer) else {
        return ExitCode::FAILURE;
    };
    match io::stdout().lock().write_all(&bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Takes the person's groups, gid and uid, for real, saved and effective ids alike, and checks
/// that root cannot be had back. Refuses root itself.
fn become_person(id: &Identity) -> Result<(), AppError> {
    if id.uid == 0 || id.gid == 0 {
        return Err(failed("it never works as root".into()));
    }
    let drop_ids = || -> nix::Result<()> {
        let groups: Vec<Gid> = id.groups.iter().copied().map(Gid::from_raw).collect();
        nix::unistd::setgroups(&groups)?;
        let gid = Gid::from_raw(id.gid);
        nix::unistd::setresgid(gid, gid, gid)?;
        let uid = Uid::from_raw(id.uid);
        nix::unistd::setresuid(uid, uid, uid)
    };
    drop_ids().map_err(|e| failed(format!("cannot become {}: {e}", id.user)))?;
    let ids = nix::unistd::getresuid().map_err(|e| failed(e.to_string()))?;
    let gids = nix::unistd::getresgid().map_err(|e| failed(e.to_string()))?;
    let all_person = [ids.real, ids.effective, ids.saved]
        .iter()
        .all(|u| u.as_raw() == id.uid)
        && [gids.real, gids.effective, gids.saved]
            .iter()
            .all(|g| g.as_raw() == id.gid);
    if !all_person || nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(failed(format!(
            "could still get root back after becoming {}",
            id.user
        )));
    }
    // The person may signal their helper (it is theirs now), but not trace it, read its memory
    // or reach its open files through /proc: changing ids makes a process non-dumpable only
    // where fs.suid_dumpable is 0. Once it is, no tracer can attach: one that attached in the
    // instant before is caught by TracerPid.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| failed(format!("cannot make itself non-dumpable: {e}")))?;
    if traced() {
        return Err(failed("it is being traced".into()));
    }
    // What it creates is the person's alone, whatever umask keyhatch was started with.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    Ok(())
}
