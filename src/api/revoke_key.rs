use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;

/// Removes the keyhatch key with this fingerprint from `authorized_keys`.
/// `POST /api/keys/revoke` with `{"fingerprint": "SHA256:…"}`.
#[server(endpoint = "keys/revoke", input = Json, output = Json)]
pub async fn revoke_key(fingerprint: String) -> Result<(), AppError> {
    use super::context::{app_state, finished};

    let state = app_state()?;
    let backend = state.backend()?;
    let tag = state.tag.clone();
    finished(&state, "revoke", async move {
        let result = backend.revoke_key(&tag, &fingerprint).await;
        (result, Some(fingerprint))
    })
    .await
}
