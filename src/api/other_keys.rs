use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::error::AppError;
use crate::json::Json;
use crate::model::OtherKeyList;

/// Lists the account's keys that keyhatch did not make, read-only, and how many lines of the
/// file sshd cannot read. `GET /api/keys/others`.
#[server(endpoint = "keys/others", input = GetUrl, output = Json)]
pub async fn other_keys() -> Result<OtherKeyList, AppError> {
    use super::context::{answer_with_status, person};

    person()?
        .keys
        .other_keys()
        .await
        .map_err(answer_with_status)
}
