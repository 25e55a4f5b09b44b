use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::{GeneratedKey, Secret};

/// Generates an ed25519 key, authorizes it, and returns its private half, once.
/// `POST /api/keys/generate` with `{"passphrase": "…", "label": "…", "expires_in_days": 90}`,
/// every field optional.
#[server(endpoint = "keys/generate", input = Json)]
pub async fn generate_key(
    passphrase: Option<Secret>,
    label: Option<String>,
    expires_in_days: Option<u32>,
) -> Result<GeneratedKey, AppError> {
    use super::context::{app_state, audited, run_blocking};
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
    let tag = state.tag.clone();
    let written = options.clone();
    let result = run_blocking(move || {
        backend.create_key(&tag, label.as_ref(), &written, passphrase.as_ref())
    })
    .await;
    let fingerprint = result.as_ref().ok().map(NewKey::fingerprint);
    let key = audited(&state, "generate", fingerprint.as_deref(), result)?;
    if let Some(limit) = &state.keys_per_hour {
        limit.record(&user);
    }
    Ok(GeneratedKey::new(&key, &options, state.seqera.as_ref()))
}
