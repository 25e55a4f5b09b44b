//! Site mode's helper process (server only). keyhatch runs as root there, but never opens a
//! person's file as root: each operation runs in a child started from keyhatch's own binary,
//! which first takes the person's supplementary groups, gid and uid (`setgroups`, `setresgid`,
//! `setresuid`), proves it cannot get root back, and only then opens anything. So NFS with
//! `root_squash` works, and a symbolic link the person planted reaches only what the person
//! could reach anyway. The threaded server never changes its own ids (glibc would apply
//! `seteuid` to every thread, and tokio moves tasks between threads).
//!
//! One helper per request: the job goes in on standard input as one JSON line, the answer
//! comes back on standard output; nothing else crosses.

use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use nix::unistd::{Gid, Uid};
use serde::{Deserialize, Serialize};

use super::backend::{Reply, Request, execute};
use crate::error::AppError;
use crate::ssh::KeysFile;

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

impl Helper {
    /// Starts a helper, hands it `request`, and returns its answer. Blocking.
    pub fn call(&self, request: &Request) -> Result<Reply, AppError> {
        let exe =
            std::env::current_exe().map_err(|e| failed(format!("cannot find keyhatch: {e}")))?;
        let mut child = Command::new(exe)
            .arg(HELPER_ARG)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| failed(format!("cannot start: {e}")))?;
        let job = serde_json::to_vec(&Job {
            helper: self.clone(),
            request: request.clone(),
        })
        .map_err(|e| failed(e.to_string()))?;
        let sent = child.stdin.take().map(|mut stdin| stdin.write_all(&job));
        let mut answer = Vec::new();
        let read = child
            .stdout
            .take()
            .map(|mut stdout| stdout.read_to_end(&mut answer));
        let status = child.wait().map_err(|e| failed(e.to_string()))?;
        if !matches!(sent, Some(Ok(()))) || !matches!(read, Some(Ok(_))) || answer.is_empty() {
            return Err(failed(format!("it ended ({status}) without an answer")));
        }
        serde_json::from_slice::<Result<Reply, AppError>>(&answer)
            .map_err(|e| failed(format!("unreadable answer: {e}")))?
    }
}

fn failed(why: String) -> AppError {
    AppError::Storage(format!("keyhatch's helper failed: {why}"))
}

/// The helper's whole life, in the child: read the job, become the person, run it, answer.
pub fn serve_one() -> ExitCode {
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
    // What it creates is the person's alone, whatever umask keyhatch was started with.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    Ok(())
}
