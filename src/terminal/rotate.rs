//! `keyhatch keys rotate`: the successor of one of keyhatch's keys, as the page's Replace makes
//! it, optionally put into the Platform credentials that held the old key, and the old key
//! revoked only once everything before it has worked.

use std::path::Path;

use super::making::make_key;
use super::output::{message, note};
use super::seqera::Handoff;
use crate::api::context::successor_settings;
use crate::api::person::Keys;
use crate::ssh::{KeyOptions, Passphrase};

/// Makes the successor of the key `fingerprint` (its label, addresses and last day, or
/// `expires_in` days), writes it to `file`, authorizes it, hands it to Platform when asked, and
/// with `revoke_old` then revokes the old key. A Platform error leaves both keys.
pub async fn rotate(
    keys: &Keys,
    key_options: &KeyOptions,
    fingerprint: &str,
    (expires_in, passphrase, (file, json)): (Option<u32>, Option<Passphrase>, (&Path, bool)),
    revoke_old: bool,
    handoff: Option<Handoff>,
) -> Result<(), String> {
    let (label, options, old) = successor_settings(keys, key_options, fingerprint, expires_in)
        .await
        .map_err(message)?;
    // Found before the key is made: a name Platform does not have makes nothing.
    let target = match &handoff {
        Some(handoff) => Some((handoff, handoff.credentials_to_update()?)),
        None => None,
    };
    let made = make_key(
        keys,
        (label, options),
        passphrase.as_ref(),
        (file, json),
        Some(&old),
    )
    .await?;
    made.report(json)?;
    note(&format!("It replaces {}.", old.fingerprint));
    if let Some((handoff, credentials)) = target {
        handoff.update(&credentials, &made.key, passphrase.as_ref()).map_err(|e| {
            format!(
                "{e}. Both keys are authorized and both work; nothing was revoked. The new key is kept{}",
                made.kept_in()
            )
        })?;
        note(&format!(
            "Seqera Platform's credentials {} ({}) now hold the new key.",
            credentials.name, credentials.id
        ));
    }
    if !revoke_old {
        note(&format!(
            "The old key still works: revoke it with `keyhatch keys revoke {}` once nothing uses it.",
            old.fingerprint
        ));
        return Ok(());
    }
    keys.revoke_key(&old.fingerprint).await.map_err(|e| {
        format!(
            "the new key is authorized, but the old key {} could not be revoked: {}",
            old.fingerprint,
            message(e)
        )
    })?;
    note(&format!(
        "Revoked the old key {}: sshd no longer accepts it.",
        old.fingerprint
    ));
    Ok(())
}
