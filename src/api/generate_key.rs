use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::{GeneratedKey, Secret};

/// Generates an ed25519 key, authorizes it, and returns its private half, once.
/// `POST /api/keys/generate` with `{"passphrase": "…"}` or `{}`.
#[server(endpoint = "keys/generate", input = Json)]
pub async fn generate_key(passphrase: Option<Secret>) -> Result<GeneratedKey, AppError> {
    use crate::model::KeyInfo;
    use crate::server::{blocking, fail, state};
    use crate::ssh::{self, Passphrase};

    let state = state().map_err(fail)?;
    let passphrase = passphrase.and_then(|p| Passphrase::new(p.expose()));
    let encrypted = passphrase.is_some();
    let home = state.home.clone();
    let key = blocking(move || {
        ssh::create_key(
            &state.store(),
            &state.tag,
            &state.key_options,
            passphrase.as_ref(),
        )
    })
    .await
    .map_err(fail)?;
    let fingerprint = key.fingerprint();
    tracing::info!(%fingerprint, encrypted, home = %home.display(), "generated and authorized a key");
    Ok(GeneratedKey {
        private_key: key.private_openssh.to_string(),
        encrypted,
        info: KeyInfo {
            key_type: key.public.algorithm().as_str().to_owned(),
            fingerprint,
            comment: key.public.comment().to_owned(),
        },
    })
}
