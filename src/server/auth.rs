//! Login. Two secrets, for two uses. A login link (`/?token=…`) works once, within
//! [`LINK_LIFETIME`]: keyhatch prints one at start, and `keyhatch link` asks the running server
//! for another; opening it trades it for a random session id in an HttpOnly, SameSite=Strict
//! cookie that expires (browsers send 127.0.0.1's cookies to every port, so the cookie must
//! never be a link or the credential). Scripts send the credential (`KEYHATCH_TOKEN`, or a
//! random one in `login-PORT.header`) as `Authorization: Bearer`; it never logs in from a URL.
//! **Log out** ends the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::FromServerFnError;
use subtle::ConstantTimeEq;

use super::guard::is_static;
use super::page::answer_unread;
use super::peer::remote_of;
use super::plain::{Part, PlainPage};
use super::settings::Settings;
use crate::audit::{Audit, Event};
use crate::error::AppError;
use crate::paths::LOGOUT_PATH;
use crate::random::random_hex;

/// How long a browser stays logged in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// How long a login link works, unless used before.
pub const LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The most login links waiting to be used; making another forgets the oldest.
const MAX_LINKS: usize = 16;

/// The scripts' credential, the login links waiting to be used, the live sessions and the
/// cookie that names one.
#[derive(Clone)]
pub struct Auth {
    credential: Arc<str>,
    /// Each waiting link's SHA-256 (a lookup by the hash tells nothing of the link by its time)
    /// and when it expires.
    links: Arc<Mutex<HashMap<[u8; 32], Instant>>>,
    cookie: Arc<str>,
    sessions: Arc<Mutex<HashMap<String, Instant>>>,
    audit: Audit,
    account: Arc<str>,
}

impl Auth {
    /// The login of `settings`' account: its token for scripts, or a fresh random one.
    /// `cookie` names the session cookie: per port, so two accounts' keyhatch servers on one
    /// host do not log each other out in one browser.
    pub fn new(settings: &Settings, cookie: String, audit: Audit) -> Self {
        Self {
            credential: settings
                .token
                .clone()
                .unwrap_or_else(random_hex::<32>)
                .into(),
            links: Arc::default(),
            cookie: cookie.into(),
            sessions: Arc::default(),
            audit,
            account: settings.account.user.as_str().into(),
        }
    }

    /// The scripts' credential, for the header file written at start.
    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// A new login link's token, which works once within [`LINK_LIFETIME`].
    pub fn new_link(&self) -> String {
        let token = random_hex::<32>();
        if let Ok(mut links) = self.links.lock() {
            let now = Instant::now();
            links.retain(|_, &mut expires| now < expires);
            if links.len() >= MAX_LINKS
                && let Some(oldest) = links.iter().min_by_key(|(_, e)| **e).map(|(h, _)| *h)
            {
                links.remove(&oldest);
            }
            links.insert(digest(&token), now + LINK_LIFETIME);
        }
        token
    }

    /// Whether `candidate` is a login link waiting to be used; it is used up either way.
    fn take_link(&self, candidate: &str) -> bool {
        let Ok(mut links) = self.links.lock() else {
            return false;
        };
        links
            .remove(&digest(candidate))
            .is_some_and(|expires| Instant::now() < expires)
    }

    fn bearer(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.as_bytes().ct_eq(self.credential.as_bytes()).into())
    }

    /// The session id the request's cookie carries, whether live or not.
    fn session_cookie<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find_map(|(name, value)| (name == &*self.cookie).then_some(value))
    }

    fn has_live_session(&self, headers: &HeaderMap) -> bool {
        let Some(id) = self.session_cookie(headers) else {
            return false;
        };
        let Ok(sessions) = self.sessions.lock() else {
            return false;
        };
        sessions
            .get(id)
            .is_some_and(|&expires| Instant::now() < expires)
    }

    fn start_session(&self) -> String {
        let id = random_hex::<32>();
        if let Ok(mut sessions) = self.sessions.lock() {
            let now = Instant::now();
            sessions.retain(|_, &mut expires| now < expires);
            sessions.insert(id.clone(), now + SESSION_LIFETIME);
        }
        id
    }

    fn end_session(&self, headers: &HeaderMap) {
        if let (Some(id), Ok(mut sessions)) = (self.session_cookie(headers), self.sessions.lock()) {
            sessions.remove(id);
        }
    }

    fn record(&self, request: &Request, action: &str, outcome: &str) {
        self.record_from(&remote_of(request), action, outcome);
    }

    /// Records `action` and its `outcome` for a client at `remote`.
    pub fn record_from(&self, remote: &str, action: &str, outcome: &str) {
        self.audit.record(&Event {
            action,
            account: &self.account,
            remote,
            fingerprint: None,
            outcome,
        });
    }
}

/// The SHA-256 of a login link's token.
fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// Middleware: lets logged-in requests (and the static files) through, trades a login link's
/// token for a session, ends a session on **Log out**, and answers everything else with 401 and
/// how to log in.
pub async fn require_login(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == LOGOUT_PATH && request.method() == Method::POST {
        auth.end_session(request.headers());
        auth.record(&request, "logout", "ok");
        return answer_unread(request, logged_out(&auth)).await;
    }
    if let Some((token, rest)) = take_token_param(request.uri()) {
        if auth.take_link(&token) {
            auth.record(&request, "login", "ok");
            return login(&auth, request.uri().path(), &rest, true);
        }
        // Written once a minute at most, with a count of the rest: a refusal costs nothing.
        auth.audit.record_refusal(&Event {
            action: "login",
            account: &auth.account,
            remote: &remote_of(&request),
            fingerprint: None,
            outcome: "link used, expired or wrong",
        });
        // Opened again from the browser's history by someone logged in already: no harm.
        if auth.has_live_session(request.headers()) {
            return login(&auth, request.uri().path(), &rest, false);
        }
        let reason = format!(
            "This login link is not valid: a link works once, within {} minutes, and this one \
             was used already, has expired, or was mistyped.",
            LINK_LIFETIME.as_secs() / 60
        );
        let refused = unauthorized(request.uri(), &reason);
        return answer_unread(request, refused).await;
    }
    if is_static(path) || auth.bearer(request.headers()) || auth.has_live_session(request.headers())
    {
        next.run(request).await
    } else {
        let refused = unauthorized(request.uri(), "You are not logged in.");
        answer_unread(request, refused).await
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

/// Redirects to the same page without the token in the URL, starting a session when `start`.
fn login(auth: &Auth, path: &str, rest_of_query: &str, start: bool) -> Response {
    // "//host" would be a protocol-relative URL to another site: never redirect off this one.
    let path = if path.starts_with("//") { "/" } else { path };
    let location = if rest_of_query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{rest_of_query}")
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    if start {
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            auth.cookie,
            auth.start_session(),
            SESSION_LIFETIME.as_secs()
        );
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The page after **Log out**, which also clears the cookie.
fn logged_out(auth: &Auth) -> Response {
    let mut response = PlainPage::new(StatusCode::OK, "Logged out", "You are logged out")
        .para(&[
            Part::Text("To log in again, run "),
            Part::Code("keyhatch link"),
            Part::Text(
                " on the node keyhatch runs on, as your account: it prints a new login link.",
            ),
        ])
        .answer();
    let cookie = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        auth.cookie
    );
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
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
    PlainPage::new(StatusCode::UNAUTHORIZED, "Log in", "Log in to keyhatch")
        .para(&[Part::Text(reason)])
        .para(&[
            Part::Text("When keyhatch starts, it prints a login link such as "),
            Part::Code("http://k….localhost:3000/?token=…"),
            Part::Text(", which works once. For a new one, run "),
            Part::Code("keyhatch link"),
            Part::Text(" on the node keyhatch runs on, as your account (after "),
            Part::Code("make run"),
            Part::Text(": "),
            Part::Code("target/release/keyhatch link"),
            Part::Text(
                " in its checkout). Open the link in this browser; it logs you in and this page \
                 will work.",
            ),
        ])
        .para(&[
            Part::Text("Scripts send the credential in the file "),
            Part::Code("login-PORT.header"),
            Part::Text(" of keyhatch's runtime directory: "),
            Part::Code("Authorization: Bearer <token>"),
            Part::Text("."),
        ])
        .answer()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This account's settings with no file, and `token`.
    fn settings(token: Option<&str>) -> Settings {
        let args = ["keyhatch".into(), "--home=/".into()];
        let mut settings = Settings::load(Some(std::path::Path::new("none")), &args).unwrap();
        settings.token = token.map(str::to_owned);
        settings
    }

    fn auth() -> Auth {
        Auth::new(
            &settings(Some("s3cret-token-0123456789abcdef-0123")),
            "keyhatch_session_3000".into(),
            Audit::to_stderr(),
        )
    }

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_random_credential_is_64_hex_digits_and_fresh() {
        let a = Auth::new(&settings(None), "c".into(), Audit::to_stderr());
        let b = Auth::new(&settings(None), "c".into(), Audit::to_stderr());
        assert_eq!(a.credential().len(), 64);
        assert!(a.credential().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.credential(), b.credential());
    }

    #[test]
    fn the_token_is_accepted_as_bearer_only_when_exact_and_never_as_a_cookie() {
        let auth = auth();
        let token = auth.credential().to_owned();
        assert!(auth.bearer(&headers(header::AUTHORIZATION, &format!("Bearer {token}"))));
        assert!(!auth.bearer(&headers(header::AUTHORIZATION, &format!("Bearer {token}x"))));
        let cookie = headers(header::COOKIE, &format!("keyhatch_session_3000={token}"));
        assert!(
            !auth.has_live_session(&cookie),
            "the token is no session id"
        );
    }

    #[test]
    fn a_session_lives_until_it_is_ended() {
        let auth = auth();
        let id = auth.start_session();
        let cookie = headers(header::COOKIE, &format!("a=b; keyhatch_session_3000={id}"));
        assert!(auth.has_live_session(&cookie));
        let other_port = headers(header::COOKIE, &format!("keyhatch_session_3001={id}"));
        assert!(!auth.has_live_session(&other_port));
        auth.end_session(&cookie);
        assert!(!auth.has_live_session(&cookie));
    }

    #[test]
    fn the_login_redirect_stays_on_this_site_and_sets_a_session_cookie() {
        let auth = auth();
        let response = login(&auth, "//evil.example/x", "", true);
        assert_eq!(response.headers()[header::LOCATION], "/");
        let response = login(&auth, "/ssh-keys", "a=1", true);
        assert_eq!(response.headers()[header::LOCATION], "/ssh-keys?a=1");
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(!cookie.contains(auth.credential()), "{cookie}");
        assert!(
            cookie.ends_with("; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"),
            "{cookie}"
        );
    }

    #[test]
    fn a_login_link_works_once_and_the_credential_is_none() {
        let auth = auth();
        let link = auth.new_link();
        assert_eq!(link.len(), 64);
        assert_ne!(link, auth.credential());
        assert!(
            !auth.take_link(auth.credential()),
            "the credential is no link"
        );
        assert!(auth.take_link(&link));
        assert!(!auth.take_link(&link), "used once");
        let expired = auth.new_link();
        auth.links
            .lock()
            .unwrap()
            .insert(digest(&expired), Instant::now());
        assert!(!auth.take_link(&expired), "expired");
    }

    #[test]
    fn making_links_forgets_the_oldest_beyond_the_most_waiting() {
        let auth = auth();
        let first = auth.new_link();
        let rest: Vec<String> = (0..MAX_LINKS).map(|_| auth.new_link()).collect();
        assert_eq!(auth.links.lock().unwrap().len(), MAX_LINKS);
        assert!(!auth.take_link(&first));
        assert!(rest.iter().all(|link| auth.take_link(link)));
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
