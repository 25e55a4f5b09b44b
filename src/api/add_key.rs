use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::KeyInfo;

/// Authorizes a public key the person already has, tagged and optioned like a generated one,
/// and answers what the list shows for it. `POST /api/keys/add` with
/// `{"public_key": "ssh-ed25519 AAAA… me@laptop", "label": "…", "expires_in_days": 90,
/// "allowed_from": "10.1.0.0/16"}`;
/// without a label, the key's own comment becomes the label when it makes a valid one.
#[server(endpoint = "keys/add", input = Json, output = Json)]
pub async fn add_key(
    /// The public key line, as in a `.pub` file.
    public_key: String,
    /// The label shown in the list; the key's own comment when none.
    label: Option<String>,
    /// Days until sshd stops accepting the key; none for never.
    expires_in_days: Option<u32>,
    /// Where it may log in from: one of the site's lists by name, or addresses, networks and
    /// host patterns (`!` before one keeps it out); none for anywhere.
    allowed_from: Option<String>,
) -> Result<KeyInfo, AppError> {
    use super::changes::finished;
    use super::context::{answer_with_status, app_state, person};
    use crate::ssh::parse_public_key;

    let (state, person) = (app_state()?, person()?);
    let key = parse_public_key(&public_key).map_err(|e| answer_with_status(e.into()))?;
    let label = super::context::brought_label(label, &key);
    let (label, options) =
        super::context::new_key_settings(&state, label, expires_in_days, allowed_from.as_deref())?;
    let (keys, written) = (person.keys.clone(), options.clone());
    let key = finished(&state, &person, "add", async move {
        // Named whatever the outcome: a helper killed after its write fails a key that is in
        // the file (red team).
        let fingerprint = Some(crate::ssh::fingerprint(&key));
        let result = keys.add_key(&key, label.as_ref(), &written).await;
        (result, fingerprint)
    })
    .await?;
    Ok(super::convert::key_info(&key, &options))
}
