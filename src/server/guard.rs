//! The layers every request passes before the app, outermost first: security headers on every
//! answer; the Host must be a configured name, or in local mode a loopback one (no DNS
//! rebinding); the connection must come from keyhatch's own account; a request that changes
//! something must not come from another site, and the API takes JSON only. Each refusal is a
//! clear page and an audit line.

use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::page::answer_unread;
use super::peer::{Peer, remote_of};
use super::plain::{Part, PlainPage, content_type_is, csp};
use super::site::Site;
use crate::api::context::ClientAddr;
use crate::api::form::from_another_site;
use crate::audit::{Audit, Event};

/// What the guard layers check against.
#[derive(Clone)]
pub struct Guard {
    /// Whom this keyhatch serves.
    pub serves: Serves,
    /// Host names accepted besides the loopback ones (in site mode: instead of them).
    pub allowed_hosts: Arc<[String]>,
    /// Where refusals are recorded.
    pub audit: Audit,
}

/// Whom a keyhatch serves, as the guard layers see it.
#[derive(Clone)]
pub enum Serves {
    /// One account (local mode): reached at 127.0.0.1, localhost and [::1] too, and only from
    /// connections of that account (or root).
    Owner {
        /// The account's uid.
        uid: u32,
        /// Its login name, for messages and audit lines.
        account: Arc<str>,
    },
    /// Everyone the site's proxy names (site mode), at `public-url`'s host alone: a refusal
    /// through the proxy records whom it named, and the client address it reported, as claimed.
    Site(Arc<Site>),
}

impl Serves {
    /// The scheme keyhatch's own page is loaded by: `public-url`'s in site mode, plain HTTP on
    /// the loopback or socket in local mode.
    fn scheme(&self) -> &str {
        match self {
            Self::Owner { .. } => "http",
            Self::Site(site) => match &site.settings.declared.public_url {
                Some(url) if url.starts_with("https://") => "https",
                _ => "http",
            },
        }
    }

    /// Whether 127.0.0.1, localhost and [::1] are answered.
    fn loopback_names(&self) -> bool {
        matches!(self, Self::Owner { .. })
    }
}

impl Guard {
    /// Records the refusal and answers it with a page.
    async fn refuse(&self, request: Request, why: &'static str, page: PlainPage) -> Response {
        crate::metrics::refused(why);
        let claim = match &self.serves {
            Serves::Site(site) => site.claim(&request),
            Serves::Owner { .. } => None,
        };
        // Refusals here cost nothing and come as fast as a client sends them: each account's
        // (or, unnamed, everyone's) are written once a minute with a count of the rest. In site
        // mode nobody is named on a request the proxy did not send.
        let (account, remote) = match (&claim, &self.serves) {
            (Some(claim), _) => (claim.name.as_deref().unwrap_or(""), claim.remote.clone()),
            (None, Serves::Owner { account, .. }) => (&**account, remote_of(&request)),
            (None, Serves::Site(_)) => ("", remote_of(&request)),
        };
        let event = Event {
            action: "refused",
            account,
            remote: &remote,
            fingerprint: None,
            outcome: why,
        };
        match &claim {
            Some(claim) => self.audit.record_claimed_refusal(&event, &claim.counted_as),
            None => self.audit.record_refusal(&event),
        }
        answer_unread(request, page.answer()).await
    }
}

/// Headers on every answer: a Content-Security-Policy (page renders set their own, with the
/// nonce of their scripts), no sniffing, no framing, no referrer to other sites, and no caching
/// of anything but the static files.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let static_path = is_static(request.uri().path());
    let mut response = next.run(request).await;
    // Only a bundle file itself may be kept: a "not found" answer under /pkg/ may not.
    let cacheable =
        static_path && matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED);
    add_security_headers(response.headers_mut(), cacheable);
    response
}

/// The headers of [`security_headers`] on an answer made outside its layer; `cacheable` keeps
/// the answer's own caching.
pub fn add_security_headers(headers: &mut HeaderMap, cacheable: bool) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp(None));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The browser bundle, stylesheet and icon: the same for everyone, carrying no key or token.
pub fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg"
}

/// Refuses a request whose Host is not a loopback name or a configured one: a page served by
/// another site under a name that resolves to 127.0.0.1 (DNS rebinding) gets nothing.
pub async fn check_host(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    match host {
        Some(host) if host_allowed(host, &guard.allowed_hosts, guard.serves.loopback_names()) => {
            next.run(request).await
        }
        Some(host) => {
            let page = PlainPage::new(StatusCode::FORBIDDEN, "Refused", "Unknown address");
            let page = if guard.serves.loopback_names() {
                page.para(&[
                    Part::Text(
                        "keyhatch answers only at 127.0.0.1, localhost and [::1] (or a name its \
                         administrator allowed with ",
                    ),
                    Part::Code("--allowed-host"),
                    Part::Text("), not at "),
                    Part::Code(host),
                    Part::Text("."),
                ])
            } else {
                let mut parts = vec![Part::Text("keyhatch answers only at ")];
                for (i, allowed) in guard.allowed_hosts.iter().enumerate() {
                    if i > 0 {
                        parts.push(Part::Text(", "));
                    }
                    parts.push(Part::Code(allowed));
                }
                parts.extend([
                    Part::Text(" (its "),
                    Part::Code("public-url"),
                    Part::Text("), not at "),
                    Part::Code(host),
                    Part::Text(". A proxy in front must pass the Host the browser sent."),
                ]);
                page.para(&parts)
            };
            guard.refuse(request, "foreign host", page).await
        }
        None => {
            let page = PlainPage::new(StatusCode::BAD_REQUEST, "Refused", "Bad request")
                .para(&[Part::Text("The request names no host.")]);
            guard.refuse(request, "no host", page).await
        }
    }
}

/// Whether `host` (a Host header, port included or not) is one of `allowed`, or a loopback name
/// when `loopback` says those are answered.
pub fn host_allowed(host: &str, allowed: &[String], loopback: bool) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((inside, port)) if port.is_empty() || is_port(port) => inside,
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    (loopback && (matches!(name, "127.0.0.1" | "::1") || name.eq_ignore_ascii_case("localhost")))
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

fn is_port(s: &str) -> bool {
    s.strip_prefix(':').unwrap_or(s).parse::<u16>().is_ok()
}

/// Refuses a connection from any account but keyhatch's own (and root). Site mode has no owner:
/// its people are named by the proxy, whose connections `site::require_person` checks.
pub async fn check_peer(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let Serves::Owner { uid, account } = &guard.serves else {
        return next.run(request).await;
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|p| p.0.clone());
    if let Some(peer) = peer.as_ref().filter(|p| p.is_allowed(*uid)) {
        request.extensions_mut().insert(ClientAddr(peer.address()));
        return next.run(request).await;
    }
    let who = match peer.as_ref().and_then(Peer::uid) {
        Some(uid) => format!("another account (uid {uid})"),
        None => "an account keyhatch could not identify".to_owned(),
    };
    let from = format!(
        " only, and this connection comes from {who}. Each person runs their own keyhatch; start \
         yours with "
    );
    let page = PlainPage::new(StatusCode::FORBIDDEN, "Refused", "Not your keyhatch").para(&[
        Part::Text("This keyhatch manages the SSH keys of "),
        Part::Bold(account),
        Part::Text(&from),
        Part::Code("make run"),
        Part::Text("."),
    ]);
    guard.refuse(request, "another account", page).await
}

/// Refuses a request that changes something when a browser says another site sent it
/// (`Sec-Fetch-Site`, or without it `Origin`), and an API call that is not JSON. Requests with
/// neither header come from scripts and go on to the login check.
pub async fn check_cross_site(
    State(guard): State<Guard>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(why) = cross_site(request.method(), request.headers(), guard.serves.scheme()) {
        let page = PlainPage::new(StatusCode::FORBIDDEN, "Refused", "Refused").para(&[Part::Text(
            "Another site tried to act on your keys. keyhatch accepts changes only from its own \
             page.",
        )]);
        return guard.refuse(request, why, page).await;
    }
    // A form post to the page must say where it comes from, as every browser does: a request
    // that says neither is a script, and scripts use the API.
    if request.method() == Method::POST
        && request.uri().path() == crate::paths::SSH_KEYS_PATH
        && !request.headers().contains_key("sec-fetch-site")
        && !request.headers().contains_key(header::ORIGIN)
    {
        let page = PlainPage::new(StatusCode::FORBIDDEN, "Refused", "Refused").para(&[
            Part::Text("keyhatch's page takes forms only from a browser. Scripts use "),
            Part::Code("/api/"),
            Part::Text(" with JSON."),
        ]);
        return guard.refuse(request, "form without origin", page).await;
    }
    if request.method() == Method::POST
        && request.uri().path().starts_with("/api/")
        && !is_json(request.headers())
    {
        let page = PlainPage::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Refused",
            "Unsupported request",
        )
        .para(&[
            Part::Text("keyhatch's API takes "),
            Part::Code("Content-Type: application/json"),
            Part::Text("."),
        ]);
        return guard.refuse(request, "not json", page).await;
    }
    next.run(request).await
}

/// Why a request is cross-site, or `None`: the rule of Go's `CrossOriginProtection`, with the
/// scheme of an `Origin` held to `scheme`, that of keyhatch's own page (a page over plain HTTP
/// on keyhatch's host is another origin, which a browser without `Sec-Fetch-Site` would not
/// say).
fn cross_site(method: &Method, headers: &HeaderMap, scheme: &str) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return from_another_site(Some(site.as_bytes())).then_some("cross-site request");
    }
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok())?;
    let same = origin
        .to_str()
        .ok()
        .and_then(|o| o.strip_prefix(scheme)?.strip_prefix("://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host));
    (!same).then_some("cross-origin request")
}

fn is_json(headers: &HeaderMap) -> bool {
    content_type_is(headers, "application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn loopback_names_on_any_port_and_configured_names_are_hosts() {
        let allowed = ["keys.example.org".to_owned()];
        for ok in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "localhost:8888",
            "LOCALHOST",
            "[::1]:3000",
            "[::1]",
            "keys.example.org",
        ] {
            assert!(host_allowed(ok, &allowed, true), "{ok} refused");
        }
        for bad in [
            "evil.example",
            "127.0.0.1.evil.example",
            "localhost.evil:3000",
            "[::2]:3000",
            "127.0.0.1:x",
            "",
        ] {
            assert!(!host_allowed(bad, &allowed, true), "{bad} accepted");
        }
    }

    #[test]
    fn site_mode_answers_its_public_host_only() {
        let allowed = ["keys.example.org".to_owned()];
        assert!(host_allowed("keys.example.org:443", &allowed, false));
        for loopback in ["127.0.0.1", "localhost:3000", "[::1]"] {
            assert!(!host_allowed(loopback, &allowed, false), "{loopback}");
        }
    }

    /// The red team's attack: with `public-url` on https, a page over plain HTTP on the same host
    /// posted with `Origin: http://…` and no `Sec-Fetch-Site` (an older browser), and passed.
    #[test]
    fn an_origin_of_another_scheme_on_the_same_host_is_cross_origin() {
        let post = Method::POST;
        let host = ("host", "keys.example.org");
        let from = |origin| cross_site(&post, &headers(&[host, ("origin", origin)]), "https");
        assert_eq!(from("https://keys.example.org"), None);
        assert_eq!(
            from("http://keys.example.org"),
            Some("cross-origin request")
        );
    }

    #[test]
    fn changes_from_other_sites_are_cross_site_and_scripts_are_not() {
        let post = Method::POST;
        let host = ("host", "127.0.0.1:3000");
        assert_eq!(
            cross_site(&post, &headers(&[host]), "http"),
            None,
            "a script"
        );
        assert_eq!(
            cross_site(
                &post,
                &headers(&[host, ("sec-fetch-site", "same-origin")]),
                "http"
            ),
            None
        );
        assert!(
            cross_site(
                &post,
                &headers(&[host, ("sec-fetch-site", "same-site")]),
                "http"
            )
            .is_some()
        );
        assert!(
            cross_site(
                &post,
                &headers(&[host, ("sec-fetch-site", "cross-site")]),
                "http"
            )
            .is_some()
        );
        assert_eq!(
            cross_site(
                &post,
                &headers(&[host, ("origin", "http://127.0.0.1:3000")]),
                "http"
            ),
            None
        );
        assert!(
            cross_site(
                &post,
                &headers(&[host, ("origin", "http://127.0.0.1:8888")]),
                "http"
            )
            .is_some()
        );
        assert!(cross_site(&post, &headers(&[host, ("origin", "null")]), "http").is_some());
        assert_eq!(
            cross_site(
                &Method::GET,
                &headers(&[host, ("sec-fetch-site", "cross-site")]),
                "http"
            ),
            None
        );
    }

    #[test]
    fn only_json_is_json() {
        assert!(is_json(&headers(&[("content-type", "application/json")])));
        assert!(is_json(&headers(&[(
            "content-type",
            "Application/JSON; charset=utf-8"
        )])));
        assert!(!is_json(&headers(&[("content-type", "text/plain")])));
        assert!(!is_json(&headers(&[])));
    }
}
