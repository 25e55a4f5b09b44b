//! The helper's side (in the child): read the job, become the person, run it, answer.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use nix::unistd::{Gid, Uid};

use super::job::{Identity, Job, failed};
use crate::error::AppError;
use crate::ssh::{AuthorizedKeys, KeysFile};

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
    // The operation's own answer, typed by the operation; or, when the helper fails before
    // it runs, an error (which reads as the error of any operation).
    let failure = |e: AppError| serde_json::to_vec(&Err::<(), _>(e));
    let answer = match serde_json::from_str::<Job>(&line) {
        Ok(job) => match become_person(&job.helper.identity).and_then(|()| store_of(&job)) {
            Ok(store) => job.request.answer(&store, job.helper.identity.uid),
            Err(e) => failure(e),
        },
        Err(e) => failure(failed(format!("unreadable job: {e}"))),
    };
    let Ok(bytes) = answer else {
        return ExitCode::FAILURE;
    };
    match io::stdout().lock().write_all(&bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// The person's file, as the job names it below their home.
fn store_of(job: &Job) -> Result<AuthorizedKeys, AppError> {
    let id = &job.helper.identity;
    Ok(KeysFile::parse(&job.helper.keys_file)
        .ok()
        .and_then(|f| f.of(&id.home, &id.user))
        .ok_or_else(|| failed(format!("no keys file below {}", id.home.display())))?
        .with_max_size(job.helper.max_file_size)
        .with_lock_timeout(job.helper.lock_timeout))
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
