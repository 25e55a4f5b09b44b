use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::{GeneratedKey, Secret};

/// Generates an ed25519 key, authorizes it, and returns its private half, once.
/// `POST /api/keys/generate` with `{"passphrase": "…"}` or `{}`.
#[server(endpoint = "keys/generate", input = Json)]
pub async fn generate_key(passphrase: Option<Secret>) -> Result<GeneratedKey, AppError> {
    use super::context::{app_state, run_blocking};
    use crate::ssh::{self, Passphrase};

    let state = app_state()?;
    let passphrase = passphrase.and_then(|p| Passphrase::new(p.expose()));
    let home = state.store.home().to_owned();
    let key = run_blocking(move || {
        ssh::create_key(
            &state.store,
            &state.tag,
            &state.key_options,
            passphrase.as_ref(),
        )
    })
    .await?;
    tracing::info!(fingerprint = %key.fingerprint(), encrypted = key.encrypted, home = %home.display(), "generated and authorized a key");
    Ok(key.into())
}
