use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::{GeneratedKey, Secret};

/// Generates an ed25519 key, authorizes it, and returns its private half, once.
/// `POST /api/keys/generate` with `{"passphrase": "…"}` or `{}`.
#[server(endpoint = "keys/generate", input = Json)]
pub async fn generate_key(passphrase: Option<Secret>) -> Result<GeneratedKey, AppError> {
    use super::context::{app_state, audited, run_blocking};
    use crate::ssh::{NewKey, Passphrase};

    let state = app_state()?;
    let backend = state.backend()?.clone();
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
    let (tag, options) = (state.tag.clone(), state.key_options.clone());
    let result =
        run_blocking(move || backend.create_key(&tag, &options, passphrase.as_ref())).await;
    let fingerprint = result.as_ref().ok().map(NewKey::fingerprint);
    let key = audited(&state, "generate", fingerprint.as_deref(), result)?;
    if let Some(limit) = &state.keys_per_hour {
        limit.record(&user);
    }
    Ok(key.into())
}
