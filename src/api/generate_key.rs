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
    use super::context::{app_state, audited};
    use crate::ssh::{NewKey, Passphrase};

    let state = app_state()?;
    let backend = state.backend()?.clone();
    let (label, options) = super::new_key_settings(&state, label, expires_in_days)?;
    let user = state.account.user.clone();
    if let Some(refused) = state
        .keys_per_hour
        .as_ref()
        .and_then(|l| l.check(&user).err())
    {
        let refused = super::context::answer_with_status(refused);
        return audited(&state, "generate", None, Err(refused));
    }
    let passphrase = passphrase.and_then(|p| Passphrase::new(p.expose()));
    let result = create_key(&state, backend, label, &options, passphrase).await;
    let fingerprint = result.as_ref().ok().map(NewKey::fingerprint);
    let key = audited(&state, "generate", fingerprint.as_deref(), result)?;
    if let Some(limit) = &state.keys_per_hour {
        limit.record(&user);
    }
    Ok(GeneratedKey::new(&key, &options, state.seqera.as_ref()))
}

/// Generates the key (a passphrase key on the low-priority pool: deriving takes a tenth of a
/// second of both cores) and has it appended; the key is returned only once it is written.
#[cfg(feature = "ssr")]
async fn create_key(
    state: &super::context::AppState,
    backend: super::backend::Backend,
    label: Option<crate::ssh::Label>,
    options: &crate::ssh::KeyOptions,
    passphrase: Option<crate::ssh::Passphrase>,
) -> Result<crate::ssh::NewKey, AppError> {
    use super::context::run_blocking;
    use crate::ssh::{self, keygen};

    let tag = state.tag.clone();
    let key = match passphrase {
        // Check the home first rather than waste the derivation; without a passphrase a key
        // takes microseconds and the append checks anyway.
        Some(passphrase) => {
            let home = backend.clone();
            run_blocking(move || home.check_home()).await?;
            let tag = tag.clone();
            state
                .slow
                .run(move || keygen::generate(&tag, label.as_ref(), Some(&passphrase)))
                .await?
        }
        None => keygen::generate(&tag, label.as_ref(), None),
    }
    .map_err(|e| AppError::from(ssh::Error::from(e)))?;
    let options = options.clone();
    run_blocking(move || backend.authorize_new(&key, &tag, &options).map(|()| key)).await
}
