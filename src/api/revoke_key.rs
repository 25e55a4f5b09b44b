use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;

/// Removes the keyhatch key with this fingerprint from `authorized_keys`.
/// `POST /api/keys/revoke` with `{"fingerprint": "SHA256:…"}`.
#[server(endpoint = "keys/revoke", input = Json)]
pub async fn revoke_key(fingerprint: String) -> Result<(), AppError> {
    use super::context::{app_state, audited, run_blocking};
    use crate::ssh;

    let state = app_state()?;
    let (work, revoked) = (state.clone(), fingerprint.clone());
    let result = run_blocking(move || ssh::revoke_key(&work.store, &work.tag, &revoked)).await;
    audited(&state, "revoke", Some(&fingerprint), result)
}
