//! When and from where each key last logged in, read from sshd's own log: the "Accepted
//! publickey for USER from ADDR port N ssh2: TYPE SHA256:…" line sshd writes at `LogLevel INFO`
//! (its default) for every login with a key.
//!
//! The lines come from a file (sshd's `-E FILE`, or syslog's) or the journal; this module only
//! reads them and keeps what they say, within a bound, so a year of logs costs no more memory
//! than the keys in it.

use std::collections::HashMap;

/// One login with a key, as sshd logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted<'a> {
    /// The account logged in to.
    pub user: &'a str,
    /// The client's address.
    pub from: &'a str,
    /// The key's `SHA256:` fingerprint.
    pub fingerprint: &'a str,
}

/// Reads a login with a key out of one message of sshd's, which must begin with sshd's words:
/// sshd also logs words a client chose (a disconnect's reason, before any login), and those
/// never begin a message. "Partial publickey" is a key that was one step of several
/// (`AuthenticationMethods`, logged at `LogLevel VERBOSE`). `None` for any other message, or
/// one whose fields are not what sshd writes.
pub fn accepted(message: &str) -> Option<Accepted<'_>> {
    let rest = ["Accepted publickey for ", "Partial publickey for "]
        .iter()
        .find_map(|mark| message.strip_prefix(mark))?;
    let (user, rest) = rest.split_once(" from ")?;
    let (from, rest) = rest.split_once(" port ")?;
    let (_, rest) = rest.split_once(": ")?;
    let fingerprint = rest.split_whitespace().nth(1)?;
    // sshd escapes what is not printable ASCII; anything else was not written by it.
    let word = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
    };
    let digest = fingerprint.strip_prefix("SHA256:")?;
    let base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    let fingerprint_ok = digest.len() == 43 && digest.chars().all(base64);
    (word(user, 256) && word(from, 100) && fingerprint_ok).then_some(Accepted {
        user,
        from,
        fingerprint,
    })
}

/// sshd's message in a line of a text log: the whole line as sshd's `-E` writes it, or what
/// follows syslog's header (`… sshd[812]: `, `sshd-session[9]: `). Another program's line
/// is left whole, so it never begins with sshd's words.
pub fn message_of(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if let Some((header, message)) = line.split_once(": ") {
        let program = header.rsplit(' ').next().unwrap_or_default();
        let name = program.split('[').next().unwrap_or_default();
        let pid_ok = program.strip_prefix(name).is_none_or(|pid| {
            pid.is_empty()
                || (pid.starts_with('[')
                    && pid.ends_with(']')
                    && pid[1..pid.len() - 1].bytes().all(|b| b.is_ascii_digit()))
        });
        if matches!(name, "sshd" | "sshd-session") && pid_ok {
            return message;
        }
    }
    line
}

/// The time an RFC 3339 timestamp at the start of `line` names (`2026-12-04T16:01:44.123+01:00`,
/// as rsyslog writes by default), in seconds since 1970; `None` when the line starts otherwise.
pub fn time_at_start(line: &str) -> Option<i64> {
    let stamp = line.split_whitespace().next()?;
    let (date, time) = stamp.split_once('T')?;
    let day = super::Date::parse(date)?;
    let digits = |s: &str| -> Option<i64> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (hour, minute, second) = (
        digits(time.get(0..2)?)?,
        digits(time.get(3..5)?)?,
        digits(time.get(6..8)?)?,
    );
    if time.get(2..3)? != ":" || time.get(5..6)? != ":" || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut zone = &time[8..];
    if let Some(fraction) = zone.strip_prefix('.') {
        zone = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (h, m) = zone.get(1..)?.split_once(':')?;
            sign * (digits(h)? * 3600 + digits(m)? * 60)
        }
    };
    Some(day.days() * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// A key's last login: when (seconds since 1970) and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    /// When.
    pub at: i64,
    /// The client's address, as sshd logged it.
    pub from: String,
}

/// The last login of each key seen, per account, since reading began; at most `cap` keys, the
/// longest unused forgotten first.
#[derive(Debug, Clone)]
pub struct Usage {
    since: i64,
    cap: usize,
    last: HashMap<(String, String), LastUse>,
}

impl Usage {
    /// Keys a log is read for by default: far more than any site's keys in use.
    pub const DEFAULT_CAP: usize = 100_000;

    /// Nothing seen yet; reading began at `since` (seconds since 1970).
    pub fn new(since: i64, cap: usize) -> Self {
        Self {
            since,
            cap: cap.max(1),
            last: HashMap::new(),
        }
    }

    /// When reading began: a key not seen was not used since then.
    pub fn since(&self) -> i64 {
        self.since
    }

    /// Reading began earlier than thought: the log goes back to `at`.
    pub fn reaches_back_to(&mut self, at: i64) {
        if Self::plausible(at, i64::MAX) {
            self.since = self.since.min(at);
        }
    }

    /// Whether `at` can be a login's time: from 2000 on (a node without a clock logs 1970),
    /// and not after `now` (a minute's slack between clocks).
    fn plausible(at: i64, now: i64) -> bool {
        (946_684_800..=now.saturating_add(60)).contains(&at)
    }

    /// Records `login` at `at` (`now` being the time it is read), unless a later one of the same
    /// key is known; a time in the future or before 2000 is no login's, and is ignored.
    pub fn record(&mut self, login: &Accepted<'_>, at: i64, now: i64) {
        if !Self::plausible(at, now) {
            return;
        }
        let key = (login.user.to_owned(), login.fingerprint.to_owned());
        if self.last.get(&key).is_some_and(|known| known.at > at) {
            return;
        }
        if self.last.len() >= self.cap && !self.last.contains_key(&key) {
            self.forget_oldest_half();
        }
        let from = login.from.to_owned();
        self.last.insert(key, LastUse { at, from });
    }

    /// The last login of `user` with the key `fingerprint`, if one was seen.
    pub fn of(&self, user: &str, fingerprint: &str) -> Option<&LastUse> {
        self.last.get(&(user.to_owned(), fingerprint.to_owned()))
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// Forgets the half of the keys used longest ago, at once (a full map costs one sort per
    /// `cap / 2` new keys, not one per key), and moves [`Self::since`] past them.
    fn forget_oldest_half(&mut self) {
        let mut by_age: Vec<(i64, (String, String))> = self
            .last
            .iter()
            .map(|(key, l)| (l.at, key.clone()))
            .collect();
        by_age.sort_unstable_by_key(|(at, _)| *at);
        let forget = self.last.len() / 2 + 1;
        for (at, key) in by_age.into_iter().take(forget) {
            self.last.remove(&key);
            // A key forgotten may have been used until then: "not used since" counts after.
            self.since = self.since.max(at.saturating_add(1));
        }
    }
}

#[cfg(test)]
mod tests;
