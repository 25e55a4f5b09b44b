use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;

/// Removes the keyhatch key with this fingerprint from `authorized_keys`.
/// `POST /api/keys/revoke` with `{"fingerprint": "SHA256:…"}`.
#[server(endpoint = "keys/revoke", input = Json)]
pub async fn revoke_key(fingerprint: String) -> Result<(), AppError> {
    use crate::server::{blocking, fail, state};
    use crate::ssh;

    let state = state().map_err(fail)?;
    let home = state.home.clone();
    let revoked = fingerprint.clone();
    blocking(move || ssh::revoke_key(&state.store(), &state.tag, &fingerprint))
        .await
        .map_err(fail)?;
    tracing::info!(fingerprint = %revoked, home = %home.display(), "revoked a key");
    Ok(())
}
