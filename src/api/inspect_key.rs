use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::KeyInfo;

/// Reads a pasted public key without adding it: its type, fingerprint and comment, or why it
/// would be refused. `POST /api/keys/inspect` with `{"public_key": "…"}`.
#[server(endpoint = "keys/inspect", input = Json, output = Json)]
pub async fn inspect_key(
    /// The public key line to read.
    public_key: String,
) -> Result<KeyInfo, AppError> {
    use super::context::{answer_with_status, person};
    use crate::ssh::{KeyOptions, parse_public_key};

    person()?;
    let key = parse_public_key(&public_key).map_err(|e| answer_with_status(e.into()))?;
    Ok(super::convert::key_info(
        &key,
        &KeyOptions::parse("").unwrap_or_default(),
    ))
}
