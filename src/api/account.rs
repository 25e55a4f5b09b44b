use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;
use crate::json::Json;
use crate::model::Account;

/// Returns the account the server acts for, for the header. `GET /api/account`.
#[server(endpoint = "account", input = GetUrl, output = Json)]
pub async fn whoami() -> Result<Account, AppError> {
    Ok(super::context::current_person()?.account)
}
