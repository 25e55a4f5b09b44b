//! Login by token, as Jupyter does: anyone on a shared login node can reach loopback, so every
//! request must carry the token printed at start, as a cookie, a bearer header, or once in the
//! URL (`/?token=…`), which is exchanged for an HttpOnly, SameSite=Strict cookie.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::FromServerFnError;
use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

use crate::error::AppError;

/// The login token and the name of the cookie that carries it.
#[derive(Clone)]
pub struct Auth {
    token: Arc<str>,
    cookie: Arc<str>,
}

impl Auth {
    /// Uses `token`, or a fresh random one; the cookie is named per port so that two accounts'
    /// keyhatch servers on one host do not overwrite each other's login in a browser.
    pub fn new(token: Option<String>, port: u16) -> Self {
        let token = token.unwrap_or_else(random_token);
        Self {
            token: token.into(),
            cookie: format!("keyhatch_token_{port}").into(),
        }
    }

    /// The token, for the URL printed at start.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn matches(&self, candidate: &str) -> bool {
        candidate.as_bytes().ct_eq(self.token.as_bytes()).into()
    }

    fn presented(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|t| self.matches(t)) {
            return true;
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == &*self.cookie && self.matches(value))
    }
}

/// 32 random bytes from the OS, hex encoded.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Middleware: lets authenticated requests through, trades a URL token for a cookie, and
/// answers everything else with 401 and how to log in.
pub async fn require_token(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    if let Some((token, rest)) = take_token_param(request.uri()) {
        return if auth.matches(&token) {
            login(&auth, request.uri().path(), &rest)
        } else {
            unauthorized(request.uri(), "That login link's token is not valid.")
        };
    }
    if auth.presented(request.headers()) {
        next.run(request).await
    } else {
        unauthorized(request.uri(), "You are not logged in.")
    }
}

/// Splits `token=…` out of the query: the token and the rest of the query.
fn take_token_param(uri: &Uri) -> Option<(String, String)> {
    let query = uri.query()?;
    let mut token = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("token=") {
            Some(value) => {
                token = Some(value.to_owned());
                false
            }
            None => true,
        })
        .collect();
    token.map(|t| (t, rest.join("&")))
}

/// Sets the login cookie and redirects to the same page without the token in the URL.
fn login(auth: &Auth, path: &str, rest_of_query: &str) -> Response {
    // "//host" would be a protocol-relative URL to another site: never redirect off this one.
    let path = if path.starts_with("//") { "/" } else { path };
    let location = if rest_of_query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{rest_of_query}")
    };
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        auth.cookie, auth.token
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&cookie),
    ) {
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// 401: the server function error for API calls, a page that says how to log in otherwise.
fn unauthorized(uri: &Uri, reason: &str) -> Response {
    if uri.path().starts_with("/api/") {
        let body = AppError::Unauthorized.ser();
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in · keyhatch</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2937}}\
         code{{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}}</style></head><body>\
         <h1>Log in to keyhatch</h1><p>{reason}</p>\
         <p>When keyhatch starts, it prints a login link such as \
         <code>http://127.0.0.1:3000/?token=…</code>. Open that link in this browser; \
         it logs you in and this page will work.</p>\
         <p>Scripts send the token in a header: <code>Authorization: Bearer &lt;token&gt;</code>.</p>\
         </body></html>"
    );
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(page))
        .unwrap_or_else(|_| StatusCode::UNAUTHORIZED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_random_token_is_64_hex_digits_and_fresh() {
        let a = Auth::new(None, 3000);
        let b = Auth::new(None, 3000);
        assert_eq!(a.token().len(), 64);
        assert!(a.token().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.token(), b.token());
    }

    #[test]
    fn the_token_is_accepted_as_bearer_or_cookie_only_when_exact() {
        let auth = Auth::new(Some("s3cret-token-1234".into()), 3000);
        assert!(auth.presented(&headers(header::AUTHORIZATION, "Bearer s3cret-token-1234")));
        assert!(!auth.presented(&headers(header::AUTHORIZATION, "Bearer s3cret-token-123")));
        assert!(auth.presented(&headers(
            header::COOKIE,
            "a=b; keyhatch_token_3000=s3cret-token-1234"
        )));
        assert!(!auth.presented(&headers(
            header::COOKIE,
            "keyhatch_token_3001=s3cret-token-1234"
        )));
        assert!(!auth.presented(&HeaderMap::new()));
    }

    #[test]
    fn the_login_redirect_stays_on_this_site() {
        let auth = Auth::new(Some("s3cret-token-1234".into()), 3000);
        let response = login(&auth, "//evil.example/x", "");
        assert_eq!(response.headers()[header::LOCATION], "/");
        let response = login(&auth, "/ssh-keys", "a=1");
        assert_eq!(response.headers()[header::LOCATION], "/ssh-keys?a=1");
    }

    #[test]
    fn the_token_parameter_is_taken_out_of_the_query() {
        let uri: Uri = "/ssh-keys?a=1&token=abc&b=2".parse().unwrap();
        assert_eq!(
            take_token_param(&uri),
            Some(("abc".into(), "a=1&b=2".into()))
        );
        let uri: Uri = "/?token=abc".parse().unwrap();
        assert_eq!(take_token_param(&uri), Some(("abc".into(), String::new())));
        assert_eq!(take_token_param(&"/?tokens=x".parse().unwrap()), None);
    }
}
