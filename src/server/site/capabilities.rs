//! Site mode's privileges: keyhatch runs as root but keeps only what starting helpers needs
//! (taking a person's gid and uid) and killing a helper past its time, from the moment it has
//! bound its socket, before any thread starts.

/// The capabilities starting helpers needs: the helper takes the person's gid and uid. The
/// bounding set keeps only these, so a helper (which starts as root) can have no other.
fn helper_capabilities() -> caps::CapsHashSet {
    [caps::Capability::CAP_SETUID, caps::Capability::CAP_SETGID].into()
}

/// Drops every capability but the two that starting helpers needs (`CAP_SETUID`, `CAP_SETGID`),
/// from the bounding set too, so neither the server nor any helper it starts can regain them;
/// the server itself also keeps `CAP_KILL` when it has it, to kill a helper (running as its
/// person) that outlives its time bound. Called once the socket is bound and given to the
/// proxy, while the process has one thread: Linux keeps capabilities per thread, and a thread
/// started before would keep root's. Refuses when another thread exists already.
pub fn keep_only_helper_capabilities() -> std::io::Result<()> {
    use caps::{CapSet, Capability};
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(std::io::Error::other(format!(
            "capabilities must be dropped before any thread starts, and {threads} threads run"
        )));
    }
    let failed =
        |e: caps::errors::CapsError| std::io::Error::other(format!("dropping capabilities: {e}"));
    let bounding = helper_capabilities();
    let mut keep = bounding.clone();
    if caps::has_cap(None, CapSet::Permitted, Capability::CAP_KILL).map_err(failed)? {
        keep.insert(Capability::CAP_KILL);
    } else {
        tracing::warn!(
            "without CAP_KILL, a helper that outlives helper-timeout cannot be killed: its \
             person's request is answered, but the helper stays until it ends by itself"
        );
    }
    for cap in caps::all().difference(&bounding) {
        caps::drop(None, CapSet::Bounding, *cap).map_err(failed)?;
    }
    caps::clear(None, CapSet::Ambient).map_err(failed)?;
    caps::clear(None, CapSet::Inheritable).map_err(failed)?;
    caps::set(None, CapSet::Effective, &keep).map_err(failed)?;
    caps::set(None, CapSet::Permitted, &keep).map_err(failed)
}

/// Checks that every thread of the process holds at most the helper capabilities and
/// `CAP_KILL` (effective, permitted), only the helper capabilities in its bounding set, and none
/// inheritable or ambient, from `/proc/self/task/*/status`.
pub fn check_every_thread_is_narrowed() -> std::io::Result<()> {
    let bounding = helper_capabilities()
        .iter()
        .fold(0u64, |mask, cap| mask | cap.bitmask());
    let keep = bounding | caps::Capability::CAP_KILL.bitmask();
    for task in std::fs::read_dir("/proc/self/task")? {
        let task = task?;
        // A thread that ended meanwhile has nothing left to check.
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let allowed = match name {
                "CapEff" | "CapPrm" => keep,
                "CapBnd" => bounding,
                "CapInh" | "CapAmb" => 0,
                _ => continue,
            };
            let held = u64::from_str_radix(value.trim(), 16).map_err(std::io::Error::other)?;
            if held & !allowed != 0 {
                return Err(std::io::Error::other(format!(
                    "thread {} holds capabilities it must not ({name} {held:x})",
                    task.file_name().to_string_lossy()
                )));
            }
        }
    }
    Ok(())
}
