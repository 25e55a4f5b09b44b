use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;
use crate::json::Json;
use crate::model::KeyList;

/// Lists keyhatch's keys in the account's `authorized_keys`, and what would make sshd ignore
/// them, and the site's lists of addresses a key may be restricted to. `GET /api/keys/list`.
#[server(endpoint = "keys/list", input = GetUrl, output = Json)]
pub async fn list_keys() -> Result<KeyList, AppError> {
    use super::context::{AppState, answer_with_status, person};

    let mut list = person()?
        .keys
        .list_keys()
        .await
        .map_err(answer_with_status)?;
    list.from_lists =
        with_context(|state: &AppState| state.from_lists.iter().map(Into::into).collect())
            .unwrap_or_default();
    Ok(list)
}
