use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;

/// Removes the keyhatch key with this fingerprint from `authorized_keys`.
/// `POST /api/keys/revoke` with `{"fingerprint": "SHA256:…"}`.
#[server(endpoint = "keys/revoke", input = Json)]
pub async fn revoke_key(fingerprint: String) -> Result<(), AppError> {
    use super::context::{app_state, run_blocking};
    use crate::ssh;

    let state = app_state()?;
    let home = state.store.home().to_owned();
    let revoked = fingerprint.clone();
    run_blocking(move || ssh::revoke_key(&state.store, &state.tag, &fingerprint)).await?;
    tracing::info!(fingerprint = %revoked, home = %home.display(), "revoked a key");
    Ok(())
}
