//! Tightening a key keyhatch wrote: where it may log in from, and how soon it stops working.
//! A change only ever narrows: the new `from=` lies within the key's own and within the one the
//! site's options require, and a new last day comes before the key's own.

use super::allowed_from::AllowedFrom;
use super::authorized_keys::{self, Line};
use super::expiry::{Date, Expiry};
use super::listing::ListedKey;
use super::operations::{Error, Refused};
use super::options;
use super::store::AuthorizedKeys;
use super::tag::Tag;
use super::values::{KeyOptions, SITE_FROM};

/// What to tighten; at least one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tightening {
    /// Let the key in only from here (and from where it was let in already).
    pub from: Option<AllowedFrom>,
    /// The first day sshd refuses the key: before its own, and after today.
    pub expires: Option<Date>,
}

/// Rewrites the line of keyhatch's key `fingerprint` (its comment starts with `tag`) with the
/// options `tightening` makes of its own, under the lock, every other byte of the file kept;
/// `required` are the site's options, whose `from=` a new one must lie within. Returns the key
/// as the list now shows it.
pub fn restrict_key(
    store: &AuthorizedKeys,
    tag: &Tag,
    fingerprint: &str,
    required: &KeyOptions,
    tightening: &Tightening,
    today: Date,
) -> Result<ListedKey, Error> {
    if tightening.from.is_none() && tightening.expires.is_none() {
        return Err(
            Refused("say where the key may log in from, or when it stops working".into()).into(),
        );
    }
    let (contents, numbers) = store.rewrite_options(fingerprint, tag, |options| {
        tightened(options, required, tightening, today).map_err(Error::from)
    })?;
    let number = numbers.first().copied().unwrap_or(1);
    let line = contents
        .split_inclusive(|&b| b == b'\n')
        .nth(number - 1)
        .unwrap_or_default();
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    match authorized_keys::parse_line(number, line) {
        Line::Key(key) => Ok(ListedKey::from(&key)),
        _ => Err(Refused("the rewritten line does not read back".into()).into()),
    }
}

/// The options field `options` with `tightening` applied: a `from=` within both its own and
/// `required`'s, an `expiry-time` before its own.
fn tightened(
    options: &[u8],
    required: &KeyOptions,
    tightening: &Tightening,
    today: Date,
) -> Result<Vec<u8>, Refused> {
    sshd_reads(options)?;
    let mut dropped = Vec::new();
    let mut added = Vec::new();
    if let Some(from) = &tightening.from {
        let mut from = from.clone();
        if let Some(own) = AllowedFrom::of_options(options) {
            let own =
                own.map_err(|e| Refused(format!("the key's line cannot be narrowed: {e}")))?;
            from = from.within(&own, "where the key may log in from now")?;
        }
        if let Some(site) = required.allowed_from() {
            from = from.within(&site, SITE_FROM)?;
        }
        dropped.push("from");
        added.push(from.option());
    }
    if let Some(date) = tightening.expires {
        if date <= today {
            return Err(Refused(format!(
                "a key's last day must come after today ({today}); to stop it now, revoke it"
            )));
        }
        let own = Expiry::earliest_readable(options).map_err(|value| {
            Refused(format!(
                "the key's expiry-time=\"{value}\" is written in a form keyhatch cannot compare, so a new last day could be later: edit the line yourself, or make a new key"
            ))
        })?;
        if let Some(own) = own
            && !own.is_after_start_of(date)
        {
            return Err(Refused(format!(
                "the key already stops working on {}; a change can only bring that closer",
                own.date()
            )));
        }
        dropped.push("expiry-time");
        added.push(Expiry::option(date));
    }
    Ok(options::replaced(options, &dropped, &added))
}

/// The options sshd reads before a key; one it does not know, or a value not in quotes,
/// makes it skip the line.
const SSHD_OPTIONS: [&str; 22] = [
    "agent-forwarding",
    "cert-authority",
    "command",
    "environment",
    "expiry-time",
    "from",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-touch-required",
    "no-user-rc",
    "no-x11-forwarding",
    "permitlisten",
    "permitopen",
    "port-forwarding",
    "principals",
    "pty",
    "restrict",
    "tunnel",
    "user-rc",
    "verify-required",
    "x11-forwarding",
];

/// Refuses to rewrite a line sshd skips: written again in keyhatch's form, it would start to
/// let the key in.
pub(super) fn sshd_reads(options: &[u8]) -> Result<(), Refused> {
    for (name, value) in options::split_options(options) {
        let name = String::from_utf8_lossy(name);
        if !SSHD_OPTIONS
            .iter()
            .any(|known| name.eq_ignore_ascii_case(known))
        {
            return Err(Refused(format!(
                "the key's line has the option {name:?}, which sshd does not know, so it skips the line: edit it yourself"
            )));
        }
        if let Some(value) = value
            && (value.len() < 2 || !value.starts_with(b"\"") || !value.ends_with(b"\""))
        {
            return Err(Refused(format!(
                "the key's {name}= value is not in quotes, so sshd skips the line: edit it yourself"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
