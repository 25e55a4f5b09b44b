use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::{Secret, SeqeraAccount};

/// The Seqera Platform user behind `token`, and their workspaces, asked of Platform by the
/// server (the browser never calls Platform). `POST /api/seqera/workspaces` with
/// `{"token": "…"}`. The token is used for this call only.
#[server(name = SeqeraAccountOf, endpoint = "seqera/workspaces", input = Json, output = Json)]
pub async fn seqera_account(
    /// The person's Platform access token; used for this call only, never kept.
    token: Secret,
) -> Result<SeqeraAccount, AppError> {
    use super::context::{app_state, person, run_blocking};

    let (state, person) = (app_state()?, person()?);
    // A call to Platform is one of the person's operations under way until it ends, even
    // when the client hangs up first (it holds a blocking thread meanwhile).
    let in_flight = person.in_flight();
    let calls = crate::seqera::Platform::ACCOUNT_CALLS;
    let platform = super::context::platform_for(&state, &person, "seqera workspaces", calls)?;
    let token = super::context::platform_token(token)?;
    run_blocking(move || {
        let _in_flight = in_flight;
        Ok(platform.account(&token)?.into())
    })
    .await
}
