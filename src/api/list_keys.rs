use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;
use crate::model::KeyList;

/// Lists keyhatch's keys in the account's `authorized_keys`, and what would make sshd ignore
/// them. `GET /api/keys/list`.
#[server(endpoint = "keys/list", input = GetUrl)]
pub async fn list_keys() -> Result<KeyList, AppError> {
    use super::context::{app_state, run_blocking};
    use super::convert::key_list;
    use crate::ssh;

    let state = app_state()?;
    run_blocking(move || {
        let problems = ssh::health::check(&state.store, state.uid);
        let listing = ssh::list_keys(&state.store, &state.tag)?;
        Ok(key_list(&state.store, listing, problems))
    })
    .await
}
