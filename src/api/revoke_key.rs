use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;

/// Removes the keyhatch key with this fingerprint from `authorized_keys`.
/// `POST /api/keys/revoke` with `{"fingerprint": "SHA256:…"}`.
#[server(endpoint = "keys/revoke", input = Json, output = Json)]
pub async fn revoke_key(
    /// The `SHA256:` fingerprint of the keyhatch key to remove.
    fingerprint: String,
) -> Result<(), AppError> {
    use super::changes::finished;
    use super::context::{app_state, person};

    let (state, person) = (app_state()?, person()?);
    let keys = person.keys.clone();
    finished(&state, &person, "revoke", async move {
        let result = keys.revoke_key(&fingerprint).await;
        (result, Some(fingerprint))
    })
    .await
}
