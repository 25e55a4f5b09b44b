//! `keyhatch keys restrict`: narrowing where a key may log in from, or how long it lasts, as
//! the page's Restrict does; and the warning any `from=` with host names gets.

use super::output::{message, note, say, to_json};
use crate::api::person::Keys;
use crate::ssh::{Date, KeyOptions, NamedFrom, allowed_from::chosen, restrict::Tightening};

/// Tightens the key `fingerprint` to `from` (patterns or one of the site's lists) and a last
/// day `expires_on` (`YYYY-MM-DD`), never past the site's options; says what it is now.
pub(super) async fn restrict(
    keys: &Keys,
    (key_options, lists): (&KeyOptions, &[NamedFrom]),
    fingerprint: &str,
    (from, expires_on): (Option<&str>, Option<&str>),
    json: bool,
) -> Result<(), String> {
    let from = match from {
        Some(text) => chosen(text, lists)
            .map_err(|e| e.to_string())?
            .ok_or("--from takes addresses, networks, host patterns or a list's name; to remove a restriction, generate a new key")?
            .into(),
        None => None,
    };
    let expires = expires_on
        .map(|day| Date::parse(day).ok_or(format!("{day:?} is not a day like 2027-01-31")))
        .transpose()?;
    let tightening = Tightening { from, expires };
    let info = keys
        .restrict_key(fingerprint, key_options, tightening)
        .await
        .map_err(message)?;
    if json {
        say(&to_json(&info)?);
        return Ok(());
    }
    let from = info.allowed_from.as_deref().unwrap_or("anywhere");
    let expires = info.expires.as_deref().unwrap_or("never");
    say(&format!(
        "Restricted {}: it logs in only from {from}; it expires {expires}.",
        info.fingerprint
    ));
    if let Some(patterns) = &info.allowed_from {
        warn_of_host_names(&KeyOptions::parse(&format!("from=\"{patterns}\"")).unwrap_or_default());
    }
    Ok(())
}

/// Warns when `options` let a key in by host name, which sshd matches only with `UseDNS yes`.
pub(super) fn warn_of_host_names(options: &KeyOptions) {
    if options
        .allowed_from()
        .is_some_and(|from| from.names_hosts())
    {
        note(
            "warning: host names match only where sshd looks them up (UseDNS yes), which it does not by default: prefer addresses",
        );
    }
}
