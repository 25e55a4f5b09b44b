//! What every `keyhatch admin` command shares: the site's settings and people, the audit log,
//! and who the administrator is.

use std::time::Duration;

use crate::api::person::{Person, SitePeople};
use crate::audit::{Audit, Event};
use crate::server::settings::{Settings, SiteSettings};
use crate::server::site::{Refusal, served};

/// How a command ended: done, refused (or failed) with a reason, or done with some accounts
/// failed (each said already).
pub enum Ended {
    /// Done.
    Done,
    /// Refused, or failed, with why.
    Refused(String),
    /// Done, but some accounts failed.
    SomeFailed,
    /// Stopped by the signal numbered so, its helpers killed.
    Stopped(i32),
}

/// The site as the service sees it, for the administrator at the terminal.
pub struct Admin {
    /// Site mode's settings: who is served.
    pub site: SiteSettings,
    /// Each account's keys, through helpers that take its uid.
    pub people: SitePeople,
    /// Where each removal is recorded.
    pub audit: Audit,
    /// The administrator's own login name.
    pub login: String,
    /// How long a helper may take (`helper-timeout`), which also bounds a look at a home.
    pub helper_timeout: Duration,
}

impl Admin {
    /// The site of `settings` (site mode's, `site`), recording to its audit log; an error
    /// when the log cannot be opened (nothing is then done unrecorded).
    pub fn new(settings: &Settings, site: SiteSettings) -> Result<Self, String> {
        let audit = match &settings.audit_log {
            Some(path) => Audit::to_file(path)
                .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))?,
            None => Audit::to_stderr(),
        };
        Ok(Self {
            site,
            people: SitePeople::new(&settings.keys, &settings.limits),
            audit,
            login: login_name(),
            helper_timeout: Duration::from_secs(settings.limits.helper_timeout),
        })
    }

    /// The account `user` with its keys, as the site serves it (its group aside: offboarding
    /// often takes a person out of `allowed-group` first), or why not.
    pub fn person(&self, user: &str) -> Result<Person, String> {
        let (identity, account) = served(&self.site, user, false).map_err(|r| reason(&r))?;
        self.people
            .person(identity, account)
            .ok_or_else(|| format!("{user}: the keys file would lie outside the home"))
    }

    /// Records `action` on `account`'s key `fingerprint` (or on the account), with `outcome`.
    pub fn record(&self, action: &str, account: &str, fingerprint: Option<&str>, outcome: &str) {
        let event = Event {
            action,
            account,
            remote: "terminal",
            fingerprint,
            outcome,
        };
        self.audit.record_by_admin(&event, &self.login);
    }
}

/// Why an account is not one the site serves, as a sentence for the administrator.
pub fn reason(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Unmapped => "not a login name".to_owned(),
        Refusal::Unknown(user) => format!("no account {user} here"),
        Refusal::Spelled(asked, account) => {
            format!("the user database gives {account} for {asked}: name it as spelled")
        }
        Refusal::Root => "root's keys are not keyhatch's".to_owned(),
        Refusal::SystemAccount(user, uid) => {
            format!("{user} (uid {uid}) is a system account, below min-uid: not served")
        }
        Refusal::Overflow(user, uid) => {
            format!("{user} (uid {uid}) is the overflow account: not served")
        }
        Refusal::AboveMaxUid(user, uid, max) => {
            format!("{user} (uid {uid}) is above max-uid {max}: not served")
        }
        Refusal::OutsideGroup(user, group) => format!("{user} is not in {group}"),
        Refusal::NoKeysFile(user) => format!("{user}: the keys file would lie outside the home"),
    }
}

/// The administrator's own login name: `SUDO_USER`, else `LOGNAME`, else `root`.
fn login_name() -> String {
    ["SUDO_USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "root".to_owned())
}
