use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::KeyInfo;

/// Tightens a keyhatch key: lets it log in only from where it could before and from
/// `allowed_from`, or brings its last day closer; never past what the site's options impose.
/// `POST /api/keys/restrict` with `{"fingerprint": "SHA256:…", "allowed_from": "10.1.0.0/16",
/// "expires_on": "2027-01-31"}`; either of the last two may be left out.
#[server(endpoint = "keys/restrict", input = Json, output = Json)]
pub async fn restrict_key(
    /// The `SHA256:` fingerprint of the keyhatch key to tighten.
    fingerprint: String,
    /// Where it may log in from: one of the site's lists by name, or addresses, networks and
    /// host patterns (`!` before one keeps it out).
    allowed_from: Option<String>,
    /// The first day sshd refuses it, `YYYY-MM-DD`: before its own, after today.
    expires_on: Option<String>,
) -> Result<KeyInfo, AppError> {
    use super::changes::finished;
    use super::context::{answer_with_status, app_state, person};
    use crate::ssh::Date;
    use crate::ssh::allowed_from::chosen;
    use crate::ssh::restrict::Tightening;

    let (state, person) = (app_state()?, person()?);
    let tightening = Tightening {
        from: chosen(
            allowed_from.as_deref().unwrap_or_default(),
            &state.from_lists,
        )
        .map_err(|e| answer_with_status(e.into()))?,
        expires: match expires_on.as_deref().map(str::trim).unwrap_or_default() {
            "" => None,
            day => Some(Date::parse(day).ok_or_else(|| {
                answer_with_status(AppError::Invalid(format!(
                    "{day:?} is not a day like 2027-01-31"
                )))
            })?),
        },
    };
    let (keys, required) = (person.keys.clone(), state.key_options.clone());
    finished(&state, &person, "restrict", async move {
        let result = keys.restrict_key(&fingerprint, &required, tightening).await;
        (result, Some(fingerprint))
    })
    .await
}
