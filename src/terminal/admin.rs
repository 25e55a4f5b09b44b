//! `keyhatch admin …`: the site's offboarding at the terminal, run as root with the site's
//! settings. Every file is read and written by a helper that has taken the account's uid, as
//! the page's are ([`SitePeople`](crate::api::person::SitePeople)); keyhatch itself only lists
//! the directory `--homes` names, and looks at who owns each home in it.

mod context;
mod scan;
mod sshd;
mod sweep;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::output::{note, one_line, say, to_json};
use crate::api::op::Removing;
use crate::declared::AdminCommand;
use crate::server::settings::Settings;
use context::{Admin, Ended};

/// Runs `command` with the site's settings (`config`, the environment and `args`, as the
/// service reads them); exits 0 when done, 1 when refused or when some accounts failed, 2 for
/// bad usage or settings.
pub fn run(command: AdminCommand, config: Option<&Path>, args: &[OsString]) -> ExitCode {
    if !rustix::process::geteuid().is_root() {
        note(
            "keyhatch: keyhatch admin runs as root (sudo keyhatch admin …): it starts a helper as \
             each account, as the site's service does",
        );
        return ExitCode::FAILURE;
    }
    if let Some(usage) = misused(&command) {
        note(&format!("keyhatch: {usage}"));
        return ExitCode::from(2);
    }
    let settings = match Settings::load(config, args) {
        Ok(settings) => settings,
        Err(e) => {
            note(&format!("keyhatch: {e}"));
            return ExitCode::from(2);
        }
    };
    let Some(site) = settings.site.clone() else {
        let file = settings.file.as_ref().map_or_else(
            || "no settings file".to_owned(),
            |f| f.display().to_string(),
        );
        note(&format!(
            "keyhatch: the settings ({file}) are local mode; keyhatch admin works on the site's \
             accounts with the site's settings: the service's settings file (mode = \"site\"), \
             or --config naming it"
        ));
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            note(&format!("keyhatch: cannot start: {e}"));
            return ExitCode::FAILURE;
        }
    };
    // What a stop in the middle leaves unknown: the changes of a revoke or a sweep.
    let changing = match &command {
        AdminCommand::Revoke { user, dry_run, .. } => {
            (!dry_run).then(|| ("admin-revoke", user.clone()))
        }
        AdminCommand::Sweep { dry_run, .. } => (!dry_run).then(|| ("admin-sweep", "*".to_owned())),
        AdminCommand::List { .. } | AdminCommand::Report { .. } => None,
    };
    let ended = runtime.block_on(async {
        let admin = match Admin::new(&settings, site) {
            Ok(admin) => Arc::new(admin),
            Err(e) => return Ended::Refused(e),
        };
        // Ctrl-C, `timeout`, a closed terminal or a lost ssh session; not the hangup a run
        // under `nohup` is there to outlive (red team).
        let on_hangup = !crate::server::hangup_is_ignored();
        let mut stops = crate::server::stops::Stops::listen(on_hangup);
        let stopped = stops.next();
        let work = async {
            match command {
                AdminCommand::List { user, json } => list(&admin, &user, json).await,
                AdminCommand::Revoke {
                    user,
                    dry_run,
                    json,
                    ..
                } => revoke(&admin, &user, dry_run, json).await,
                AdminCommand::Sweep {
                    dry_run,
                    json,
                    accounts,
                    ..
                } => sweep::sweep(Arc::clone(&admin), &accounts, dry_run, json).await,
                AdminCommand::Report { json, accounts } => {
                    sweep::report(Arc::clone(&admin), &accounts, json).await
                }
            }
        };
        tokio::select! {
            ended = work => ended,
            signal = stopped => {
                if let Some((action, account)) = &changing {
                    // Not "killed at work": a helper may have just finished, or not started
                    // (red team).
                    let outcome = "unknown: keyhatch admin was stopped before it had written \
                                   this account's lines (for a sweep, every account without \
                                   one); its helpers were killed, whatever they had done by \
                                   then; look at the keys";
                    admin.record(action, account, None, outcome);
                }
                Ended::Stopped(signal)
            }
        }
    });
    match ended {
        // Its helpers are killed with the tasks that hold them (a helper left to go on alone
        // removed keys with no audit line: red team).
        Ended::Stopped(signal) => {
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
            note("keyhatch: stopped; what was under way is in the audit log as of unknown outcome");
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
        }
        ended => {
            // A helper or a look at a hung home still running is not waited for.
            runtime.shutdown_background();
            match ended {
                Ended::Done => ExitCode::SUCCESS,
                Ended::SomeFailed | Ended::Stopped(_) => ExitCode::FAILURE,
                Ended::Refused(why) => {
                    note(&format!("keyhatch: {}", one_line(&why)));
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// What is wrong with how `command` was asked for, if anything.
fn misused(command: &AdminCommand) -> Option<String> {
    match command {
        AdminCommand::Revoke { all: false, .. } => Some(
            "revoke needs --all: keyhatch admin revokes every keyhatch key of the account (one \
             key is revoked on the page, or with keyhatch keys revoke as the person)"
                .to_owned(),
        ),
        AdminCommand::Sweep { expired: false, .. } => Some(
            "sweep needs --expired: it removes the keys sshd on this node refuses for their \
             expiry-time, and nothing else"
                .to_owned(),
        ),
        // Only whether a source is named: each is read once, when the accounts are gone
        // through (a --users-file may be a pipe).
        AdminCommand::Sweep { accounts, .. } | AdminCommand::Report { accounts, .. } => {
            scan::no_source(accounts)
        }
        _ => None,
    }
}

/// `admin list`: the account's keyhatch keys, as the page lists them.
async fn list(admin: &Admin, user: &str, json: bool) -> Ended {
    let person = match admin.person(user) {
        Ok(person) => person,
        Err(why) => return Ended::Refused(why),
    };
    match super::list::list(&person.keys, json).await {
        Ok(()) => Ended::Done,
        Err(why) => Ended::Refused(format!("{user}: {why}")),
    }
}

/// `admin revoke --all`: removes every keyhatch key of the account (with `dry_run`, says
/// which it would), records each, and says what was done.
async fn revoke(admin: &Admin, user: &str, dry_run: bool, json: bool) -> Ended {
    let person = match admin.person(user) {
        Ok(person) => person,
        Err(why) => return Ended::Refused(why),
    };
    let removal = match person.keys.remove_keys(Removing::All, dry_run).await {
        Ok(removal) => removal,
        Err(e) => {
            admin.record("admin-revoke", user, None, &format!("failed: {e}"));
            return Ended::Refused(format!("{user}: {e}"));
        }
    };
    sweep::record(admin, "admin-revoke", user, &removal, dry_run);
    let held = sweep::held_elsewhere(&removal);
    let ended = match &held {
        Some(_) => Ended::SomeFailed,
        None => Ended::Done,
    };
    if json {
        let answer = serde_json::json!({
            "account": user,
            "dry_run": dry_run,
            "path": removal.path,
            "removed": removal.keys,
        });
        return match to_json(&answer) {
            Ok(text) => {
                say(&text);
                ended
            }
            Err(e) => Ended::Refused(e),
        };
    }
    if removal.keys.is_empty() {
        say(&format!("No keyhatch keys in {}.", removal.path));
        return Ended::Done;
    }
    let verb = if dry_run { "Would revoke" } else { "Revoked" };
    for judged in &removal.keys {
        let (fingerprint, comment) = (&judged.key.fingerprint, judged.key.comment());
        match (judged.removed, &judged.note) {
            (true, _) => say(&format!("{verb} {fingerprint} {comment}")),
            (false, note) => say(&format!(
                "Left {fingerprint} {comment}: {}",
                note.as_deref().unwrap_or("left")
            )),
        }
    }
    let removed = removal.keys.iter().filter(|j| j.removed).count();
    say(&format!(
        "{} {removed} keyhatch key(s) of {user} in {}; other lines are as they were.",
        if dry_run { "Would remove" } else { "Removed" },
        removal.path
    ));
    if let Some(why) = held {
        note(&format!("keyhatch: {user}: {}", one_line(&why)));
    }
    ended
}
