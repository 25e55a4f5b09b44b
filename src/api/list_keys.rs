use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;
use crate::json::Json;
use crate::model::KeyList;

/// Lists keyhatch's keys in the account's `authorized_keys`, and what would make sshd ignore
/// them, the site's lists of addresses a key may be restricted to, and when each key last logged in
/// (when keyhatch reads sshd's log). `GET /api/keys/list`.
#[server(endpoint = "keys/list", input = GetUrl, output = Json)]
pub async fn list_keys() -> Result<KeyList, AppError> {
    use super::context::{AppState, answer_with_status, person};

    let person = person()?;
    let mut list = person.keys.list_keys().await.map_err(answer_with_status)?;
    with_context(|state: &AppState| {
        list.from_lists = state.from_lists.iter().map(Into::into).collect();
        if let Some(reading) = &state.usage {
            super::convert::with_usage(&mut list, reading, &person.account.user);
        }
    });
    Ok(list)
}
