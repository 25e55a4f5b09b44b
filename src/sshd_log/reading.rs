//! What the reader of sshd's log has found, shared by its thread and the requests.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ssh::usage::{Accepted, LastUse, Usage, accepted, message_of};

/// What the reader has found, for requests to look up.
#[derive(Debug, Clone)]
pub struct Reading(Arc<RwLock<State>>);

#[derive(Debug)]
struct State {
    usage: Usage,
    /// Whether the log could be read the last time it was tried.
    readable: bool,
}

/// What a list shows of a person's keys' use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// When reading began (seconds since 1970): a key not seen was not used since.
    pub since: i64,
    /// The last login of each key asked about, in the order asked.
    pub last: Vec<Option<LastUse>>,
}

impl Reading {
    /// Nothing read yet, and the log not yet found readable.
    pub(super) fn new() -> Self {
        Self(Arc::new(RwLock::new(State {
            usage: Usage::new(now(), Usage::DEFAULT_CAP),
            readable: false,
        })))
    }

    /// The last logins of `user` with each of `fingerprints`; `None` while the log cannot be
    /// read (so no page claims a key was not used).
    pub fn seen<'a>(
        &self,
        user: &str,
        fingerprints: impl Iterator<Item = &'a str>,
    ) -> Option<Seen> {
        let state = self.0.read().ok()?;
        state.readable.then(|| Seen {
            since: state.usage.since(),
            last: fingerprints
                .map(|print| state.usage.of(user, print).cloned())
                .collect(),
        })
    }

    /// Records what the lines of a text log say, each at the time it carries or else `at`
    /// (when it was read).
    pub(super) fn record<'a>(&self, lines: impl Iterator<Item = (&'a str, Option<i64>)>, at: i64) {
        if let Ok(mut state) = self.0.write() {
            for (line, time) in lines {
                let login = accepted(message_of(line));
                if let Some(login) = login {
                    state.usage.record(&login, time.unwrap_or(at), at);
                }
            }
        }
    }

    /// Records one login read from the journal, at its own time: the journal is read from its
    /// oldest entry, so it reaches back that far.
    pub(super) fn record_login(&self, login: &Accepted<'_>, at: i64) {
        if let Ok(mut state) = self.0.write() {
            state.usage.reaches_back_to(at);
            state.usage.record(login, at, now());
        }
    }

    /// Marks the log readable or not.
    pub(super) fn set_readable(&self, readable: bool) {
        if let Ok(mut state) = self.0.write() {
            state.readable = readable;
        }
    }
}

/// Seconds since 1970.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
