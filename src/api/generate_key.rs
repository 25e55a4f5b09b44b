use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::{GeneratedKey, Secret};

/// Generates an ed25519 key, authorizes it, and returns its private half, once.
/// `POST /api/keys/generate` with `{"passphrase": "…", "label": "…", "expires_in_days": 90,
/// "allowed_from": "10.1.0.0/16"}`, every field optional.
///
/// Replace: `{"replaces": "SHA256:…", "passphrase": "…", "expires_in_days": 90}` makes the
/// successor of that keyhatch key, with its label, where it may log in from and its last day
/// (or `expires_in_days` from today), even at the cap on keys; the old key keeps working until
/// it is revoked, and the answer names it in `replaces`.
#[server(endpoint = "keys/generate", input = Json, output = Json)]
pub async fn generate_key(
    /// The passphrase that encrypts the private key; none for an unencrypted key.
    passphrase: Option<Secret>,
    /// The label shown in the list.
    label: Option<String>,
    /// Days until sshd stops accepting the key; none for never.
    expires_in_days: Option<u32>,
    /// Where it may log in from: one of the site's lists by name, or addresses, networks and
    /// host patterns (`!` before one keeps it out); none for anywhere.
    allowed_from: Option<String>,
    /// The `SHA256:` fingerprint of the keyhatch key this one replaces, if it does.
    replaces: Option<String>,
) -> Result<GeneratedKey, AppError> {
    use super::changes::finished;
    use super::context::{answer_with_status, app_state, audited, person};
    use crate::ssh::Passphrase;

    let (state, person) = (app_state()?, person()?);
    let action = if replaces.is_some() {
        "replace"
    } else {
        "generate"
    };
    let (label, options, old) = match replaces {
        None => {
            let (label, options) = super::context::new_key_settings(
                &state,
                label,
                expires_in_days,
                allowed_from.as_deref(),
            )?;
            (label, options, None)
        }
        Some(fingerprint) => {
            if label.is_some() || allowed_from.is_some() {
                return Err(answer_with_status(AppError::Invalid(
                    "a replacement keeps the old key's label and addresses: send only its passphrase and, for a lifetime of its own, expires_in_days".into(),
                )));
            }
            let site = &state.key_options;
            let (label, options, old) = super::context::successor_settings(
                &person.keys,
                site,
                &fingerprint,
                expires_in_days,
            )
            .await
            .map_err(answer_with_status)?;
            (label, options, Some(old))
        }
    };
    // Counted from now, so concurrent generates cannot all pass; given back if nothing is
    // written.
    let reservation = match person.limits.reserve_key(person.uid) {
        Ok(reservation) => reservation,
        Err(refused) => {
            let refused = Err(answer_with_status(refused));
            return audited(&state, &person, action, None, refused);
        }
    };
    let passphrase = passphrase.and_then(|p| Passphrase::new(p.expose()));
    // Until the key exists nothing is written, so a client that hangs up may stop this part.
    let made = make_key(&state, &person, label, passphrase, reservation).await;
    let (key, reservation) = match made {
        Ok(made) => made,
        Err(e) => {
            return audited(&state, &person, action, None, Err(answer_with_status(e)));
        }
    };
    let (keys, written) = (person.keys.clone(), options.clone());
    // From here the work goes to its end, counted and audited, whether or not the client stays.
    let replaced = old.as_ref().map(|old| old.fingerprint.clone());
    let key = finished(&state, &person, action, async move {
        let fingerprint = Some(key.fingerprint());
        let written = match &old {
            Some(old) => keys.authorize_successor(&key, &written, old).await,
            None => keys.authorize_new(&key, &written).await,
        };
        let result = written.map(|()| key);
        if let (Ok(_), Some(reservation)) = (&result, reservation) {
            reservation.keep();
        }
        (result, fingerprint)
    })
    .await?;
    Ok(GeneratedKey {
        replaces: replaced,
        ..GeneratedKey::new(&key, &options, state.seqera.as_ref())
    })
}

/// Makes the key: a passphrase key on the low-priority pool (deriving takes a tenth of a second
/// of both cores), after checking the home exists. The derivation counts as one of the person's
/// operations under way until it ends, and is skipped if its client has gone by its turn, or
/// stopped within a round if the client goes while it runs.
///
/// The key's `reservation` of the hour is kept for good as a derivation starts: its cores are
/// spent whatever becomes of the key, or a person could derive without end, at `max-keys` or
/// hanging up just before each derivation ends (red team). Otherwise it is given back, to be
/// kept once the key is written.
#[cfg(feature = "ssr")]
async fn make_key(
    state: &super::context::AppState,
    person: &super::person::Person,
    label: Option<crate::ssh::Label>,
    passphrase: Option<crate::ssh::Passphrase>,
    reservation: super::limits::Reservation,
) -> Result<(crate::ssh::NewKey, Option<super::limits::Reservation>), AppError> {
    use crate::ssh::{self, keygen};

    let tag = person.keys.tag().clone();
    match passphrase {
        // Check the home first rather than waste the derivation; without a passphrase a key
        // takes microseconds and the append checks anyway.
        Some(passphrase) => {
            person.keys.check_home().await?;
            let in_flight = person.in_flight();
            state
                .key_derivation
                .run(move |wanted| {
                    let _in_flight = in_flight;
                    reservation.keep();
                    keygen::generate_while(&tag, label.as_ref(), Some(&passphrase), wanted)
                })
                .await?
                .map(|key| (key, None))
        }
        None => keygen::generate(&tag, label.as_ref(), None).map(|key| (key, Some(reservation))),
    }
    .map_err(|e| AppError::from(ssh::Error::from(e)))
}
