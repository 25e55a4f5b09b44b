use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;
use crate::model::KeyList;

/// Lists keyhatch's keys in the account's `authorized_keys`. `GET /api/keys/list`.
#[server(endpoint = "keys/list", input = GetUrl)]
pub async fn list_keys() -> Result<KeyList, AppError> {
    use crate::model::KeyInfo;
    use crate::server::{blocking, fail, state};
    use crate::ssh;

    let state = state().map_err(fail)?;
    let store = state.store();
    let path = store.path().display().to_string();
    let (listing, problems) = blocking(move || {
        let problems = ssh::health::check(&state.home, state.uid);
        Ok((ssh::list_keys(&store, &state.tag)?, problems))
    })
    .await
    .map_err(fail)?;
    Ok(KeyList {
        path,
        keys: listing
            .keys
            .into_iter()
            .map(|k| KeyInfo {
                key_type: k.key_type,
                fingerprint: k.fingerprint,
                comment: k.comment,
            })
            .collect(),
        other_keys: listing.other_keys,
        unreadable_lines: listing.unreadable_lines,
        problems: problems.into_iter().map(crate::server::problem).collect(),
    })
}
