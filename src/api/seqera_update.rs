use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::{Secret, SeqeraSshCredentials, SeqeraUpdated};

/// The person's SSH credentials in Seqera Platform, in the workspace `workspace_id` or their
/// own: where a replacement key can go. `POST /api/seqera/credentials/list` with
/// `{"token", "workspace_id"}`; answers `[{"id", "name"}]`.
#[server(name = SeqeraSshCredentialsIn, endpoint = "seqera/credentials/list", input = Json, output = Json)]
pub async fn seqera_ssh_credentials(
    /// The person's Platform access token; used for this call only, never kept.
    token: Secret,
    /// The workspace; none for the person's own.
    workspace_id: Option<i64>,
) -> Result<Vec<SeqeraSshCredentials>, AppError> {
    use super::context::{app_state, person, run_blocking};

    let (state, person) = (app_state()?, person()?);
    let in_flight = person.in_flight();
    let platform = super::context::platform_for(&state, &person, "seqera credentials list", 1)?;
    let token = super::context::platform_token(token)?;
    run_blocking(move || {
        let _in_flight = in_flight;
        let listed = platform.ssh_credentials(&token, workspace_id)?;
        Ok(listed
            .into_iter()
            .map(|c| SeqeraSshCredentials {
                id: c.id,
                name: c.name,
            })
            .collect())
    })
    .await
}

/// Puts a replacement key into SSH credentials that Seqera Platform already holds, in place
/// of the old key, as `tw credentials update ssh` does: the credentials keep their id and
/// name, so the pipelines that use them go on working. With `revoke_old`, the old key (by
/// fingerprint) is revoked too, but only once Platform has accepted the new one.
/// `POST /api/seqera/credentials/update` with `{"token", "workspace_id", "credentials_id",
/// "name", "private_key", "passphrase", "revoke_old"}`. On any error from Platform nothing is
/// revoked: both keys still work, and the answer (502) says what Platform said.
#[server(name = SeqeraUpdateCredentials, endpoint = "seqera/credentials/update", input = Json, output = Json)]
#[allow(clippy::too_many_arguments)]
pub async fn seqera_update_credentials(
    /// The person's Platform access token; used for this call only, never kept.
    token: Secret,
    /// The workspace the credentials are in; none for the person's own.
    workspace_id: Option<i64>,
    /// The credentials' id in Platform, as listed.
    credentials_id: String,
    /// Their name, as listed.
    name: String,
    /// The replacement's private key, just shown.
    private_key: Secret,
    /// Its passphrase, when Platform is to have it.
    passphrase: Option<Secret>,
    /// The fingerprint of the keyhatch key to revoke once Platform holds the new one.
    revoke_old: Option<String>,
) -> Result<SeqeraUpdated, AppError> {
    use super::changes::Changes;
    use super::context::{
        answer_with_status, app_state, key_for_platform, person, platform_token, run_blocking,
    };
    use crate::seqera::{CredentialsId, CredentialsName, PlatformError};

    let (state, person) = (app_state()?, person()?);
    let in_flight = person.in_flight();
    let platform = super::context::platform_for(&state, &person, "seqera update", 1)?;
    let invalid = |message: String| answer_with_status(AppError::Invalid(message));
    let token = platform_token(token)?;
    let id = CredentialsId::parse(&credentials_id).ok_or_else(|| {
        invalid(format!(
            "{credentials_id:?} is not a Platform credentials id"
        ))
    })?;
    let name = CredentialsName::parse(&name).map_err(|e| invalid(e.to_string()))?;
    let (private_key, fingerprint) = key_for_platform(private_key)?;
    if revoke_old.as_deref() == Some(fingerprint.as_str()) {
        return Err(invalid("revoke_old names the new key itself".into()));
    }
    let passphrase = passphrase.map(|p| zeroize::Zeroizing::new(p.expose()));
    // The update and the revoke it asks for, each a change (counted against the hour's and
    // audited), on one task of their own: a client that hangs up while Platform answers stops
    // neither (red team: the revoke was dropped, and then done without its audit line).
    let (changes, keys) = (Changes::of(&state, &person), person.keys.clone());
    let revoking = Changes::of(&state, &person);
    if revoke_old.is_some() {
        revoking.expect("revoke");
    }
    let done = tokio::spawn(async move {
        let updated = changes.make("seqera update", async move {
            let updated = run_blocking(move || {
                let _in_flight = in_flight;
                let done = platform.update_ssh_credentials(
                    &token,
                    workspace_id,
                    (&id, &name),
                    &private_key,
                    passphrase.as_deref().map(String::as_str),
                );
                crate::metrics::relayed(done.as_ref().map_or_else(PlatformError::kind, |()| "ok"));
                done?;
                Ok(id.as_str().to_owned())
            })
            .await;
            (updated, Some(fingerprint))
        });
        let credentials_id = updated.await?;
        let Some(old) = revoke_old else {
            return Ok(SeqeraUpdated {
                credentials_id,
                revoked: None,
                revoke_error: None,
            });
        };
        // Platform holds the new key: the old one may go. Its failure is reported, not
        // raised, since Platform's change stands.
        let revoked = revoking.make("revoke", async move {
            let revoked = keys.revoke_key(&old).await.map(|()| old.clone());
            (revoked, Some(old))
        });
        let revoked = revoked.await;
        Ok(SeqeraUpdated {
            credentials_id,
            revoke_error: revoked.as_ref().err().map(ToString::to_string),
            revoked: revoked.ok(),
        })
    });
    match done.await {
        Ok(result) => result.map_err(answer_with_status),
        Err(e) => Err(answer_with_status(AppError::Request(
            ServerFnErrorErr::ServerError(e.to_string()),
        ))),
    }
}
