//! Replacing a key keyhatch wrote: the new key's options, made from the old key's, so that a
//! replacement keeps where the key may log in from and never outlives the old one unless the
//! person gives it a lifetime of its own.

use super::allowed_from::AllowedFrom;
use super::expiry::{Date, Expiry, Lifetime};
use super::operations::Refused;
use super::options;
use super::restrict::sshd_reads;
use super::values::{KeyOptions, SITE_FROM};

/// The options field of the key that replaces one whose field is `old`, never looser than it
/// nor than the site's options now (`site`), in this order, since sshd applies options in turn
/// (`restrict` then `pty` allows a terminal, `pty` then `no-pty` does not):
/// - the site's options, as written (its `from=` apart);
/// - those of the old key's options that only ever narrow what a key may do ([`NARROWING`]:
///   `restrict`, `no-…`, `command=`, `permitopen=`…), where the site's lack them: an option
///   that widens (`pty`, `port-forwarding`, `cert-authority`…) goes, unless the site gives it;
/// - one `from=`: the old key's within the site's (either alone where the other has none);
/// - the old key's last day, or with `lifetime` that many days from `today` instead; the
///   site's own `expiry-time`, if it has one, still applies (sshd keeps the earliest).
///
/// Refused with a sentence where sshd would skip the old line, where its `from=` or
/// `expiry-time` cannot be read, or where the new key would not work even for a day.
pub fn successor_options(
    old: &[u8],
    site: &KeyOptions,
    lifetime: Option<Lifetime>,
    today: Date,
) -> Result<KeyOptions, Refused> {
    sshd_reads(old)?;
    let site_options: Vec<&[u8]> = options::raw_options(site.as_str().as_bytes())
        .filter(|option| !is_named(option, "from"))
        .collect();
    let kept = options::raw_options(old).filter(|option| {
        NARROWING.iter().any(|name| is_named(option, name)) && !site_options.contains(option)
    });
    let mut field: Vec<String> = site_options
        .iter()
        .copied()
        .chain(kept)
        .map(|option| String::from_utf8_lossy(option).into_owned())
        .collect();
    let from = match (AllowedFrom::of_options(old), site.allowed_from()) {
        (Some(Err(e)), _) => {
            return Err(Refused(format!(
                "the key's from= cannot be read, so its replacement could be let in from more places: {e}"
            )));
        }
        (Some(Ok(own)), Some(required)) => Some(own.within(&required, SITE_FROM)?),
        (Some(Ok(own)), None) => Some(own),
        (None, required) => required,
    };
    field.extend(from.map(|f| f.option()));
    let last_day = match lifetime {
        Some(lifetime) => Some(lifetime.ends(today)),
        None => own_last_day(old)?,
    };
    if let Some(last_day) = last_day {
        if last_day <= today {
            return Err(Refused(format!(
                "the key stops working on {last_day}, so a replacement with its lifetime would not work at all: choose how many days the new key lasts"
            )));
        }
        field.push(Expiry::option(last_day));
    }
    written(field.join(",").as_bytes())
}

/// The options that only ever take from what a key may do, wherever they stand in a line.
const NARROWING: [&str; 10] = [
    "restrict",
    "no-agent-forwarding",
    "no-port-forwarding",
    "no-pty",
    "no-user-rc",
    "no-x11-forwarding",
    "command",
    "permitopen",
    "permitlisten",
    "verify-required",
];

/// `field` as options keyhatch writes, checked as a site's are.
fn written(field: &[u8]) -> Result<KeyOptions, Refused> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|text| KeyOptions::parse(text).ok())
        .ok_or_else(|| {
            Refused(
                "the key's options cannot be carried over to a new line as written: edit its line yourself, or make a new key".into(),
            )
        })
}

/// The first day sshd refuses a key whose options field is `old`, wherever the node is; `None`
/// when it never expires.
fn own_last_day(old: &[u8]) -> Result<Option<Date>, Refused> {
    let own = Expiry::earliest_readable(old).map_err(|value| {
        Refused(format!(
            "the key's expiry-time=\"{value}\" is written in a form keyhatch cannot compare, so its replacement could outlive it: choose how many days the new key lasts"
        ))
    })?;
    Ok(own.map(|expiry| {
        let day = expiry.date();
        if expiry.is_after_start_of(day) || Expiry::on(day) == expiry {
            day
        } else {
            // A time written in UTC early in its day can come before the node's midnight.
            Date::from_days(day.days() - 1)
        }
    }))
}

/// Whether `option` (`name` or `name="value"`) is named `name`, in any case.
fn is_named(option: &[u8], name: &str) -> bool {
    let own = option.split(|&b| b == b'=').next().unwrap_or_default();
    own.eq_ignore_ascii_case(name.as_bytes())
}

#[cfg(test)]
mod tests;
