use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;

/// Removes the keyhatch key with this fingerprint from `authorized_keys`.
/// `POST /api/keys/revoke` with `{"fingerprint": "SHA256:…"}`.
#[server(endpoint = "keys/revoke", input = Json, output = Json)]
pub async fn revoke_key(fingerprint: String) -> Result<(), AppError> {
    use super::context::{app_state, audited, run_blocking};

    let state = app_state()?;
    let backend = state.backend()?.clone();
    let (tag, revoked) = (state.tag.clone(), fingerprint.clone());
    let result = run_blocking(move || backend.revoke_key(&tag, &revoked)).await;
    audited(&state, "revoke", Some(&fingerprint), result)
}
