//! `admin sweep --expired` and `admin report`: many accounts, a few at a time.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::context::{Admin, Ended};
use super::scan::{Outcome, scan, targets};
use super::sshd::Sshd;
use crate::api::op::{JudgedKey, Removal, Removing};
use crate::declared::Accounts;
use crate::terminal::output::{note, say, to_json};

/// Records each key of `removal` removed from `account` (a dry run's as such) under `action`.
pub(super) fn record(admin: &Admin, action: &str, account: &str, removal: &Removal, dry_run: bool) {
    let outcome = if dry_run {
        "dry run: would be removed"
    } else {
        "ok"
    };
    for judged in removal.keys.iter().filter(|j| j.removed) {
        admin.record(action, account, Some(&judged.key.fingerprint), outcome);
    }
    for judged in removal.keys.iter().filter(|j| j.held_elsewhere) {
        let why = format!("failed: {}", judged.note.as_deref().unwrap_or_default());
        admin.record(action, account, Some(&judged.key.fingerprint), &why);
    }
}

/// Why `removal` did not take away every key it was to, when a line keyhatch did not write
/// holds one of them: the keys still let in.
pub(super) fn held_elsewhere(removal: &Removal) -> Option<String> {
    let held: Vec<&str> = removal
        .keys
        .iter()
        .filter(|j| j.held_elsewhere)
        .map(|j| j.key.fingerprint.as_str())
        .collect();
    (!held.is_empty()).then(|| {
        format!(
            "{} still let in by a line keyhatch did not write (left, with keyhatch's own line): {}",
            held.join(", "),
            removal.path
        )
    })
}

/// What removes expired keys now, as this node's sshd reads them.
async fn expired_now() -> (Sshd, Removing) {
    let sshd = Sshd::here().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let removing = Removing::Expired {
        now,
        reads_utc: sshd.reads_utc(),
    };
    (sshd, removing)
}

/// The outcomes of removing `removing` (or judging it, with `dry_run`) in every account
/// `accounts` names, each removal recorded under `action`.
async fn go_through(
    admin: Arc<Admin>,
    accounts: &Accounts,
    removing: Removing,
    dry_run: bool,
    action: &'static str,
) -> Result<Vec<Outcome<Removal>>, String> {
    // Off the runtime's threads: a `--users-file` pipe not yet written, or a `--homes` on a
    // hung mount, would otherwise hold up a stop too.
    let named = accounts.clone();
    let targets = tokio::task::spawn_blocking(move || targets(&named))
        .await
        .map_err(|e| format!("the accounts named could not be read: {e}"))??;
    let outcomes = scan(
        admin.clone(),
        targets,
        usize::from(accounts.jobs),
        move |admin, person| async move {
            let user = person.account.user.clone();
            match person.keys.remove_keys(removing, dry_run).await {
                Ok(removal) => {
                    if !action.is_empty() {
                        record(&admin, action, &user, &removal, dry_run);
                    }
                    match held_elsewhere(&removal) {
                        Some(why) if !action.is_empty() => Err(why),
                        _ => Ok(removal),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await;
    // Every account that failed, before its helper as within it (no such account, a home
    // that cannot be looked at or does not answer).
    if !action.is_empty() {
        for outcome in &outcomes {
            if let Outcome::Failed { what, why } = outcome {
                admin.record(action, what, None, &format!("failed: {why}"));
            }
        }
    }
    Ok(outcomes)
}

/// How the command ends, for `outcomes`: some failed, or done.
fn ended<T>(outcomes: &[Outcome<T>]) -> Ended {
    if outcomes.iter().any(|o| matches!(o, Outcome::Failed { .. })) {
        Ended::SomeFailed
    } else {
        Ended::Done
    }
}

/// `admin sweep --expired`: removes, in every account named, the keys sshd here refuses for
/// their `expiry-time`; says what was done, account by account.
pub(super) async fn sweep(
    admin: Arc<Admin>,
    accounts: &Accounts,
    dry_run: bool,
    json: bool,
) -> Ended {
    let (sshd, removing) = expired_now().await;
    let outcomes = match go_through(admin, accounts, removing, dry_run, "admin-sweep").await {
        Ok(outcomes) => outcomes,
        Err(why) => return Ended::Refused(why),
    };
    if json {
        let accounts: Vec<_> = outcomes
            .iter()
            .map(|o| match o {
                Outcome::Done { account, value } => serde_json::json!({
                    "account": account,
                    "path": value.path,
                    "removed": value.keys.iter().filter(|j| j.removed).collect::<Vec<_>>(),
                    "left": value.keys.iter().filter(|j| !j.removed && j.note.is_some()).collect::<Vec<_>>(),
                }),
                Outcome::Skipped { what, why } => serde_json::json!({"account": what, "skipped": why}),
                Outcome::Failed { what, why } => serde_json::json!({"account": what, "error": why}),
            })
            .collect();
        let answer = serde_json::json!({
            "dry_run": dry_run,
            "sshd": sshd.describe(),
            "accounts": accounts,
        });
        match to_json(&answer) {
            Ok(text) => say(&text),
            Err(e) => return Ended::Refused(e),
        }
        return ended(&outcomes);
    }
    note(&sshd.describe());
    let verb = if dry_run { "would remove" } else { "removed" };
    let (mut keys, mut from) = (0, 0);
    for outcome in &outcomes {
        match outcome {
            Outcome::Done { account, value } => {
                let removed: Vec<&JudgedKey> = value.keys.iter().filter(|j| j.removed).collect();
                for judged in &removed {
                    say(&format!("{account}: {verb} {}", described(judged)));
                }
                for judged in value.keys.iter().filter(|j| !j.removed) {
                    if let Some(why) = &judged.note {
                        say(&format!("{account}: {} {why}", judged.key.fingerprint));
                    }
                }
                if !removed.is_empty() {
                    keys += removed.len();
                    from += 1;
                }
            }
            Outcome::Skipped { what, why } => note(&format!("{what}: skipped: {why}")),
            Outcome::Failed { what, why } => say(&format!("{what}: failed: {why}")),
        }
    }
    summary(
        &outcomes,
        &format!(
            "{} {keys} expired key(s) from {from} account(s)",
            capital(verb)
        ),
    );
    ended(&outcomes)
}

/// `admin report`: for every account named, its keyhatch keys, the oldest (the first in its
/// file: keys are appended, and the file keeps no dates), the expired (as sshd here reads
/// them), and those with no expiry.
pub(super) async fn report(admin: Arc<Admin>, accounts: &Accounts, json: bool) -> Ended {
    let (sshd, removing) = expired_now().await;
    let outcomes = match go_through(admin, accounts, removing, true, "").await {
        Ok(outcomes) => outcomes,
        Err(why) => return Ended::Refused(why),
    };
    if json {
        let rows: Vec<_> = outcomes.iter().map(row_json).collect();
        let answer = serde_json::json!({"sshd": sshd.describe(), "accounts": rows});
        match to_json(&answer) {
            Ok(text) => say(&text),
            Err(e) => return Ended::Refused(e),
        }
        return ended(&outcomes);
    }
    note(&sshd.describe());
    say(&format!(
        "{:<20} {:>5} {:>8} {:>10}  OLDEST",
        "ACCOUNT", "KEYS", "EXPIRED", "NO EXPIRY"
    ));
    for outcome in &outcomes {
        match outcome {
            Outcome::Done { account, value } => {
                let expired = value.keys.iter().filter(|j| j.removed).count();
                let endless = value
                    .keys
                    .iter()
                    .filter(|j| j.key.expires.is_none())
                    .count();
                let oldest = value.keys.first().map_or_else(|| "-".to_owned(), described);
                say(&format!(
                    "{account:<20} {:>5} {expired:>8} {endless:>10}  {oldest}",
                    value.keys.len()
                ));
            }
            Outcome::Skipped { what, why } => note(&format!("{what}: skipped: {why}")),
            Outcome::Failed { what, why } => say(&format!("{what:<20} failed: {why}")),
        }
    }
    summary(&outcomes, "Reported");
    ended(&outcomes)
}

/// One account's line of the JSON report.
fn row_json(outcome: &Outcome<Removal>) -> serde_json::Value {
    let brief = |j: &JudgedKey| {
        serde_json::json!({
            "fingerprint": j.key.fingerprint,
            "label": j.key.label,
            "expires": j.key.expires,
        })
    };
    match outcome {
        Outcome::Done { account, value } => serde_json::json!({
            "account": account,
            "path": value.path,
            "keys": value.keys.len(),
            "oldest": value.keys.first().map(brief),
            "expired": value.keys.iter().filter(|j| j.removed).map(brief).collect::<Vec<_>>(),
            "no_expiry": value.keys.iter().filter(|j| j.key.expires.is_none()).map(brief).collect::<Vec<_>>(),
        }),
        Outcome::Skipped { what, why } => serde_json::json!({"account": what, "skipped": why}),
        Outcome::Failed { what, why } => serde_json::json!({"account": what, "error": why}),
    }
}

/// A key as one line: fingerprint, expiry, label.
fn described(judged: &JudgedKey) -> String {
    let key = &judged.key;
    let expiry = key
        .expires
        .as_ref()
        .map_or_else(|| "no expiry".to_owned(), |day| format!("expires {day}"));
    let label = key.label.as_deref().unwrap_or("-");
    format!("{} ({expiry}) {label}", key.fingerprint)
}

/// `text` with its first letter capital.
fn capital(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The last line: `done`, and how many accounts were gone through, skipped and failed.
fn summary<T>(outcomes: &[Outcome<T>], done: &str) {
    let count = |f: fn(&Outcome<T>) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let failed = count(|o| matches!(o, Outcome::Failed { .. }));
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let through = count(|o| matches!(o, Outcome::Done { .. }));
    say(&format!(
        "{done}; {through} account(s) gone through, {skipped} skipped, {failed} failed."
    ));
}
