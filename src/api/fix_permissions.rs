use leptos::prelude::*;

use crate::error::AppError;
use crate::json::Json;
use crate::model::PermissionFix;

/// Makes one of the permission fixes sshd needs (`~/.ssh` 0700, the file 0600).
/// `POST /api/keys/fix` with `{"fix": "SshDirMode"}` or `{"fix": "FileMode"}`.
#[server(endpoint = "keys/fix", input = Json, output = Json)]
pub async fn fix_permissions(
    /// The fix to make.
    fix: PermissionFix,
) -> Result<(), AppError> {
    use super::changes::finished;
    use super::context::{app_state, person};

    let (state, person) = (app_state()?, person()?);
    let keys = person.keys.clone();
    finished(&state, &person, "fix", async move {
        (keys.fix(fix).await, None)
    })
    .await
}
