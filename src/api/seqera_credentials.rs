use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::{Secret, SeqeraCredentials};

/// Adds a private key to Seqera Platform as SSH credentials, as `tw credentials add ssh` does:
/// keyhatch's server sends it to the site's Platform (and nowhere else), in the workspace
/// `workspace_id` or, without one, the person's own context. `POST /api/seqera/credentials` with
/// `{"token", "workspace_id", "name", "private_key", "passphrase"}`; answers
/// `{"credentials_id"}`. Platform's refusals come back as 502 with a sentence.
#[server(name = SeqeraAddCredentials, endpoint = "seqera/credentials", input = Json, output = Json)]
pub async fn seqera_credentials(
    /// The person's Platform access token; used for this call only, never kept.
    token: Secret,
    /// The workspace the credentials go to; none for the person's own.
    workspace_id: Option<i64>,
    /// The credentials' name in Platform.
    name: String,
    /// The private key just shown, sent on to Platform.
    private_key: Secret,
    /// Its passphrase, when it has one.
    passphrase: Option<Secret>,
) -> Result<SeqeraCredentials, AppError> {
    use super::changes::finished;
    use super::context::{
        answer_with_status, app_state, key_for_platform, person, platform_token, run_blocking,
    };
    use crate::seqera::{CredentialsName, PlatformError};

    let (state, person) = (app_state()?, person()?);
    // A call to Platform is one of the person's operations under way until it ends, even
    // when the client hangs up first (it holds a blocking thread meanwhile).
    let in_flight = person.in_flight();
    let platform = super::context::platform_for(&state, &person, "seqera credentials", 1)?;
    let invalid = |message: String| answer_with_status(AppError::Invalid(message));
    let token = platform_token(token)?;
    let name = CredentialsName::parse(&name).map_err(|e| invalid(e.to_string()))?;
    let (private_key, fingerprint) = key_for_platform(private_key)?;
    let passphrase = passphrase.map(|p| zeroize::Zeroizing::new(p.expose()));
    // A change, in Platform: counted against the hour's, and audited even when the client
    // hangs up (red team: added in a loop, it wrote 677 lines in 10 s).
    finished(&state, &person, "seqera credentials", async move {
        let result = run_blocking(move || {
            let _in_flight = in_flight;
            let added = platform.add_ssh_credentials(
                &token,
                workspace_id,
                &name,
                &private_key,
                passphrase.as_deref().map(String::as_str),
            );
            crate::metrics::relayed(added.as_ref().map_or_else(PlatformError::kind, |_| "ok"));
            let id = added?;
            Ok(SeqeraCredentials { credentials_id: id })
        })
        .await;
        (result, Some(fingerprint))
    })
    .await
}
