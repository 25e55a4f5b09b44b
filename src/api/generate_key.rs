use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::{GeneratedKey, Secret};

/// Generates an ed25519 key, authorizes it, and returns its private half, once.
/// `POST /api/keys/generate` with `{"passphrase": "…", "label": "…", "expires_in_days": 90}`,
/// every field optional.
#[server(endpoint = "keys/generate", input = Json, output = Json)]
pub async fn generate_key(
    passphrase: Option<Secret>,
    label: Option<String>,
    expires_in_days: Option<u32>,
) -> Result<GeneratedKey, AppError> {
    use super::context::{answer_with_status, app_state, audited, finished};
    use crate::ssh::Passphrase;

    let state = app_state()?;
    let backend = state.backend()?;
    let (label, options) = super::new_key_settings(&state, label, expires_in_days)?;
    // Counted from now, so concurrent generates cannot all pass; given back if nothing is
    // written.
    let reservation = match state
        .keys_per_hour
        .as_ref()
        .map(|l| l.reserve(&state.account.user))
    {
        Some(Err(refused)) => {
            return audited(&state, "generate", None, Err(answer_with_status(refused)));
        }
        Some(Ok(reservation)) => Some(reservation),
        None => None,
    };
    let passphrase = passphrase.and_then(|p| Passphrase::new(p.expose()));
    // Until the key exists nothing is written, so a client that hangs up may stop this part.
    let made = make_key(&state, &backend, label, passphrase).await;
    let key = match made {
        Ok(key) => key,
        Err(e) => return audited(&state, "generate", None, Err(answer_with_status(e))),
    };
    let (tag, written) = (state.tag.clone(), options.clone());
    // From here the work goes to its end, counted and audited, whether or not the client stays.
    let key = finished(&state, "generate", async move {
        let fingerprint = Some(key.fingerprint());
        let result = backend
            .authorize_new(&key, &tag, &written)
            .await
            .map(|()| key);
        if let (Ok(_), Some(reservation)) = (&result, reservation) {
            reservation.keep();
        }
        (result, fingerprint)
    })
    .await?;
    Ok(GeneratedKey::new(&key, &options, state.seqera.as_ref()))
}

/// Makes the key: a passphrase key on the low-priority pool (deriving takes a tenth of a second
/// of both cores), after checking the home exists. The derivation counts as one of the person's
/// operations under way until it ends, and is skipped if its client has gone by its turn.
#[cfg(feature = "ssr")]
async fn make_key(
    state: &super::context::AppState,
    backend: &super::backend::Backend,
    label: Option<crate::ssh::Label>,
    passphrase: Option<crate::ssh::Passphrase>,
) -> Result<crate::ssh::NewKey, AppError> {
    use crate::ssh::{self, keygen};

    let tag = state.tag.clone();
    match passphrase {
        // Check the home first rather than waste the derivation; without a passphrase a key
        // takes microseconds and the append checks anyway.
        Some(passphrase) => {
            backend.check_home().await?;
            let in_flight = backend.clone();
            state
                .slow
                .run(move || {
                    let _in_flight = in_flight;
                    keygen::generate(&tag, label.as_ref(), Some(&passphrase))
                })
                .await?
        }
        None => keygen::generate(&tag, label.as_ref(), None),
    }
    .map_err(|e| AppError::from(ssh::Error::from(e)))
}
