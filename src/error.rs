//! The error the browser receives from a server function.

use crate::json::JsonBody;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A failure shown to the person, with a message written for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AppError {
    /// The request was not authenticated with keyhatch's token.
    #[error("you are not logged in: open the URL keyhatch printed when it started")]
    Unauthorized,
    /// `authorized_keys` or the home directory could not be read or written.
    #[error("{0}")]
    Storage(String),
    /// What was sent cannot be used: a label too long, a private key pasted, …
    #[error("{0}")]
    Invalid(String),
    /// The key is in the file already.
    #[error("{0}")]
    Conflict(String),
    /// The key asked for is not in the file.
    #[error("{0}")]
    NotFound(String),
    /// The request would change what keyhatch may not change (a key it did not add).
    #[error("{0}")]
    Forbidden(String),
    /// A per-person limit of the site is reached.
    #[error("{0}")]
    TooMany(String),
    /// The file is held by another program, or keyhatch is stopping; trying again later may
    /// work.
    #[error("{0}")]
    Busy(String),
    /// The key could not be made.
    #[error("{0}")]
    Keygen(String),
    /// Seqera Platform refused or could not be reached; the message says which.
    #[error("{0}")]
    Platform(String),
    /// The request itself failed: network, encoding, or a server fault.
    #[error("{}", request_failed(.0))]
    Request(ServerFnErrorErr),
}

impl AppError {
    /// The error's kind, as the metrics count it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Storage(_) => "storage",
            Self::Invalid(_) => "invalid",
            Self::Conflict(_) => "conflict",
            Self::NotFound(_) => "not found",
            Self::Forbidden(_) => "forbidden",
            Self::TooMany(_) => "too many",
            Self::Busy(_) => "busy",
            Self::Keygen(_) => "keygen",
            Self::Platform(_) => "platform",
            Self::Request(_) => "request",
        }
    }

    /// The HTTP status a response carrying this error should have.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::Unauthorized => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Busy(_) => 503,
            Self::TooMany(_) => 429,
            Self::Platform(_) => 502,
            Self::Storage(_) | Self::Keygen(_) | Self::Request(_) => 500,
        }
    }
}

/// What a failed request says: keyhatch's own fault as it is; anything else (no answer, or an
/// answer that is not keyhatch's: the site's sign-in proxy answers in its place once a sign-in
/// has ended) with what to do.
fn request_failed(error: &ServerFnErrorErr) -> String {
    match error {
        ServerFnErrorErr::ServerError(message) => format!("the request failed: {message}"),
        ServerFnErrorErr::Request(_)
        | ServerFnErrorErr::Response(_)
        | ServerFnErrorErr::Deserialization(_)
        | ServerFnErrorErr::MiddlewareError(_) => "keyhatch's answer did not arrive: the \
            connection dropped, or your sign-in has ended. Reload the page, then try again."
            .to_owned(),
        other => format!("the request failed: {other}"),
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonBody;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        if let Some(invalid) = invalid_body(&value) {
            return invalid;
        }
        Self::Request(value)
    }
}

/// On the server, a request body that is not the JSON its call takes (`{"label": 5}`): the
/// sender's mistake, answered 400 with what serde found, as the README says, never a 500.
/// `None` for every other failure.
#[cfg(feature = "ssr")]
fn invalid_body(error: &ServerFnErrorErr) -> Option<AppError> {
    let (ServerFnErrorErr::Deserialization(why) | ServerFnErrorErr::Args(why)) = error else {
        return None;
    };
    let invalid = AppError::Invalid(format!("the request body is {why}"));
    // Decoding fails before the server function runs, so nothing else sets the status.
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::BAD_REQUEST);
    }
    Some(invalid)
}

#[cfg(test)]
mod tests {
    use leptos::server_fn::error::FromServerFnError;

    use super::AppError;

    #[test]
    fn an_error_crosses_as_the_json_scripts_read() {
        let error = AppError::Conflict("that key is already in the file".to_owned());
        let body = error.ser();
        assert_eq!(body, r#"{"Conflict":"that key is already in the file"}"#);
        assert_eq!(AppError::de(body), error);
    }
}
