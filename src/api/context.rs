//! What server functions share (server only): the state of the request, running blocking domain
//! work, and turning its errors into HTTP answers.

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnErrorErr;
use leptos_axum::ResponseOptions;

use crate::audit::{Audit, Event};
use crate::error::AppError;
use crate::model::Account;
use crate::ssh::{self, AuthorizedKeys, KeyOptions, Tag};

/// What server functions need, provided to them as Leptos context.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The account's `authorized_keys`, with its limits: the one file every call works on.
    pub store: AuthorizedKeys,
    /// The comment word of keyhatch's keys.
    pub tag: Tag,
    /// The options written before each new key.
    pub key_options: KeyOptions,
    /// Who the page acts for.
    pub account: Account,
    /// The account's uid, which must own what sshd reads.
    pub uid: u32,
    /// Where changes are recorded.
    pub audit: Audit,
}

/// The client's address as the server saw it (`127.0.0.1:40312`, or `unix`), put in each
/// request's extensions by the server for the audit log.
#[derive(Debug, Clone)]
pub struct Remote(pub String);

/// Records `action` (on the key `fingerprint`, when there is one) with the outcome of `result`
/// in the audit log, and passes `result` on.
pub fn audited<T>(
    state: &AppState,
    action: &str,
    fingerprint: Option<&str>,
    result: Result<T, AppError>,
) -> Result<T, AppError> {
    let remote = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Remote>().cloned())
        .map_or_else(|| "unknown".to_owned(), |r| r.0);
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    state.audit.record(&Event {
        action,
        account: &state.account.user,
        remote: &remote,
        fingerprint,
        outcome: &outcome,
    });
    result
}

/// Returns the state of the request being served; outside one, an error answered with 500.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        answer_with_status(AppError::Request(ServerFnErrorErr::ServerError(
            "server state is missing".into(),
        )))
    })
}

/// Runs blocking domain work (file I/O, bcrypt) off the async threads; an error is converted
/// and sets the response's HTTP status.
pub async fn run_blocking<T, F>(work: F) -> Result<T, AppError>
where
    F: FnOnce() -> Result<T, ssh::Error> + Send + 'static,
    T: Send + 'static,
{
    let result = match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(AppError::from),
        Err(e) => Err(AppError::Request(ServerFnErrorErr::ServerError(
            e.to_string(),
        ))),
    };
    result.map_err(answer_with_status)
}

/// Sets the response's HTTP status from `error`, so scripts see 4xx/5xx, and returns the error.
pub fn answer_with_status(error: AppError) -> AppError {
    if let Some(response) = use_context::<ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    error
}
