use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::Fix;

/// Makes one of the permission fixes sshd needs (`~/.ssh` 0700, the file 0600).
/// `POST /api/keys/fix` with `{"fix": "SshDirMode"}` or `{"fix": "FileMode"}`.
#[server(endpoint = "keys/fix", input = Json)]
pub async fn fix_permissions(fix: Fix) -> Result<(), AppError> {
    use crate::server::{blocking, fail, state};
    use crate::ssh::health;

    let state = state().map_err(fail)?;
    let fix = match fix {
        Fix::SshDirMode => health::Fix::SshDirMode,
        Fix::FileMode => health::Fix::FileMode,
    };
    blocking(move || Ok(health::fix(&state.home, state.uid, fix)?))
        .await
        .map_err(fail)?;
    Ok(())
}
