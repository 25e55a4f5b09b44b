//! What site mode says when it starts: the host it answers, the proxy's account, and the
//! socket's owner and mode, with a warning when the proxy's account cannot reach the socket. A
//! proxy that runs as another account, or a socket in a directory the proxy cannot search,
//! would otherwise start without a word, and every person would see the proxy's own 502.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::settings::{Listen, SiteSettings};

/// The lines site mode prints after its first one, and its warnings, for `site` listening on
/// `listen` (the socket already bound and given to the proxy).
pub fn describe(site: &SiteSettings, listen: &Listen) -> (Vec<String>, Vec<String>) {
    let mut lines = vec![format!(
        "  public host: {} (public-url); no other Host is answered",
        site.public_host
    )];
    if !site.base.as_str().is_empty() {
        let base = site.base.as_str();
        lines.push(format!(
            "  path: {base}/ (public-url); nothing outside it is answered, and the health check is \
             {base}/healthz. Every other page on {} shares keyhatch's origin and can act for \
             whoever is signed in: serve nothing there that the site does not trust (SECURITY.md)",
            site.public_host
        ));
    }
    let mut warnings = Vec::new();
    match &site.proxy {
        Some((name, uid)) => {
            lines.push(format!(
                "  proxy account: {name} (uid {uid}), naming the person in {}",
                site.declared.user_header
            ));
            if *uid == site.overflow_uid {
                warnings.push(format!(
                    "proxy-user {name} is the system's overflow account (uid {uid}), which \
                     stands for every owner the system cannot map. Make sure the proxy's \
                     workers run as it (Debian's nginx and Apache run as www-data, RHEL's as \
                     nginx and apache); any other account gets \"permission denied\" from the \
                     socket, and people see the proxy's 502"
                ));
            }
        }
        None => lines.push(format!(
            "  proxy addresses: {} (trusted-proxies), naming the person in {}",
            site.trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            site.declared.user_header
        )),
    }
    let health = &site.health_account;
    lines.push(format!(
        "  health check: its helper becomes {} (uid {}) (health-account)",
        health.name, health.uid
    ));
    if health.uid == site.overflow_uid {
        warnings.push(format!(
            "the health check's helper becomes {name} (health-account): any process running as \
             {name} can stop it, and /healthz then fails although people are served. Make it a \
             system account no process runs as, such as keyhatch, which the package makes",
            name = health.name
        ));
    } else if let Some(pid) = a_process_of(health.uid) {
        warnings.push(format!(
            "processes run as {name}, the health check's account (health-account), such as \
             PID {pid}: any of them can stop the check's helper, and /healthz then fails \
             although people are served. Make it a system account no process runs as",
            name = health.name
        ));
    }
    if let Listen::Unix(socket) = listen {
        match std::fs::metadata(socket) {
            Ok(meta) => lines.push(format!(
                "  socket: {}, owner {} (uid {}), mode {:04o}",
                socket.display(),
                account_name(meta.uid()),
                meta.uid(),
                meta.mode() & 0o7777
            )),
            Err(e) => warnings.push(format!("cannot read the socket {}: {e}", socket.display())),
        }
        match &site.proxy {
            Some((name, uid)) => {
                if let Some(why) = unreachable(socket, *uid) {
                    warnings.push(format!(
                        "proxy-user {name} cannot reach the socket {}: {why}. The proxy will \
                         get \"permission denied\" and show everyone a 502. Put the socket in a \
                         directory the proxy can search (the unit's /run/keyhatch), or let {name} \
                         search that directory",
                        socket.display()
                    ));
                }
            }
            None => warnings.push(format!(
                "the socket {} is root's, mode 0600, and no proxy can connect to it: set \
                 proxy-user to the proxy's account",
                socket.display()
            )),
        }
    }
    (lines, warnings)
}

/// A process (any of its real, effective or saved uids) running as `uid`, if there is one.
fn a_process_of(uid: u32) -> Option<u32> {
    let uid = uid.to_string();
    let runs_as = |status: &str| {
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        let mut uids = line.split_whitespace().skip(1).take(3);
        Some(uids.any(|u| u == uid))
    };
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
            runs_as(&status)?.then_some(pid)
        })
}

/// Why the account `uid` cannot reach `socket` by the mode bits of the directories on the way
/// (every one must be searchable by it), or `None` when it can. ACLs are not read.
fn unreachable(socket: &Path, uid: u32) -> Option<String> {
    if uid == 0 {
        return None;
    }
    let user = nix::unistd::User::from_uid(uid.into()).ok().flatten()?;
    let groups: Vec<u32> = std::ffi::CString::new(user.name.clone())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, user.gid).ok())
        .unwrap_or_else(|| vec![user.gid])
        .into_iter()
        .map(nix::unistd::Gid::as_raw)
        .collect();
    let dir = socket.parent()?;
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let mut on_the_way: Vec<PathBuf> = dir.ancestors().map(Path::to_owned).collect();
    on_the_way.reverse();
    for dir in on_the_way {
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        let bit = if meta.uid() == uid {
            0o100
        } else if groups.contains(&meta.gid()) {
            0o010
        } else {
            0o001
        };
        if meta.mode() & bit == 0 {
            return Some(format!(
                "it cannot search {} (owner {}, group {}, mode {:04o})",
                dir.display(),
                account_name(meta.uid()),
                group_name(meta.gid()),
                meta.mode() & 0o7777
            ));
        }
    }
    let meta = std::fs::metadata(socket).ok()?;
    (meta.uid() != uid).then(|| {
        format!(
            "the socket is {}'s (mode {:04o}), not {}'s",
            account_name(meta.uid()),
            meta.mode() & 0o7777,
            user.name
        )
    })
}

fn account_name(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_directory_the_account_cannot_search_is_named() {
        let www = nix::unistd::User::from_name("www-data").unwrap().unwrap();
        let uid = www.uid.as_raw();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        let socket = inner.join("k.sock");
        std::fs::write(&socket, "").unwrap();
        std::os::unix::fs::chown(&socket, Some(uid), None).unwrap();
        assert_eq!(unreachable(&socket, uid), None);
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).unwrap();
        let why = unreachable(&socket, uid).unwrap();
        assert!(why.contains(&inner.display().to_string()), "{why}");
        assert!(why.contains("mode 0700"), "{why}");
        // Its group may search it, and www-data is not in root's group.
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o710)).unwrap();
        assert!(unreachable(&socket, uid).is_some());
        std::os::unix::fs::chown(&inner, None, Some(www.gid.as_raw())).unwrap();
        assert_eq!(unreachable(&socket, uid), None);
        std::os::unix::fs::chown(&socket, Some(0), None).unwrap();
        assert!(unreachable(&socket, uid).unwrap().contains("root's"));
    }
}
