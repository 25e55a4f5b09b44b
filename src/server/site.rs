//! Site mode's login. The site's single sign-on proxy (nginx with oauth2-proxy, Apache with
//! mod_auth_openidc, …) authenticates people and names them in a header. keyhatch trusts that
//! header only on connections from the proxy: on its Unix socket from the proxy's account
//! (`SO_PEERCRED`), on TCP from a configured proxy address (and on loopback, also from the
//! proxy's account: any account on the host can connect from 127.0.0.1). The name maps to an
//! account of the system's user database (NSS, so LDAP and SSSD accounts work); root, system
//! accounts and people outside the allowed group are refused, each with a clear page.

#![deny(missing_docs)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

mod account;
mod capabilities;
mod refusal;
mod sending;

use super::page::answer_unread;
use super::peer::Peer;
use super::plain::{Part, PlainPage};
use super::send_timeout::Unsent;
use super::settings::SiteSettings;
use crate::api::context::ClientAddr;
use crate::api::person::{Person, SitePeople};
use crate::audit::{Audit, Event};
use crate::declared;

pub use account::served;
pub use capabilities::{check_every_thread_is_narrowed, keep_only_helper_capabilities};
pub use refusal::Refusal;
use refusal::refusal_page;

/// Site mode's login: who may log in through the proxy, and the people it serves.
#[derive(Clone)]
pub struct Site {
    /// Who may log in, and how the proxy's header maps to an account: site mode's settings,
    /// checked at start.
    pub settings: SiteSettings,
    /// Where logins and refusals are recorded.
    pub audit: Audit,
    /// Each person served, with their keys and limits.
    pub people: SitePeople,
}

/// The login name for the proxy's `name`, as Open OnDemand's `user_map_match`: the first
/// capture group of `user-map-match` (the whole match without one), lowercased when
/// `user-map-lowercase`; `None` when the rule does not match.
fn map_user(site: &declared::Site, name: &str) -> Option<String> {
    let captures = site.user_map_match.captures(name)?;
    let user = captures.get(1).or_else(|| captures.get(0))?.as_str();
    // ASCII only, as Open OnDemand's `:lower` (Lua's string.lower): Unicode's lowercasing folds
    // other letters into ASCII ones (the Kelvin sign K into k), which would give "KATE", a
    // different name, kate's account.
    let user = if site.user_map_lowercase {
        user.to_ascii_lowercase()
    } else {
        user.to_owned()
    };
    (!user.is_empty()).then_some(user)
}

/// The name a header value carries: its UTF-8 as it is (a site's names may go beyond ASCII),
/// each byte that is not UTF-8 written `\xNN`, so such bytes show as what they are (in the
/// audit log, on the refusal page; not all as U+FFFD) and the name is no account's (account
/// names hold no backslash).
fn name_of(value: &HeaderValue) -> String {
    let mut name = String::new();
    for chunk in value.as_bytes().utf8_chunks() {
        name.push_str(chunk.valid());
        for byte in chunk.invalid() {
            name.push_str(&format!("\\x{byte:02x}"));
        }
    }
    name
}

/// What the proxy said about a request before keyhatch checked it: the name in its header
/// (when it sent one) and the client address it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The name in the user header, as sent.
    pub name: Option<String>,
    /// What its refusals are counted against in the audit log ([`Site::counted_as`]).
    pub counted_as: String,
    /// The client address the proxy reported (`X-Real-IP`), else the connection's.
    pub remote: String,
}

impl Site {
    /// Whether `peer` is the proxy, whose header is believed.
    fn is_proxy(&self, peer: &Peer) -> bool {
        let proxy_uid = self.settings.proxy_uid();
        let trusted = &self.settings.trusted_proxies;
        match peer {
            Peer::Unix { uid } => proxy_uid.is_some() && *uid == proxy_uid,
            Peer::Loopback { addr, uid } => {
                trusted.contains(&addr.ip()) && proxy_uid.is_some() && *uid == proxy_uid
            }
            // An address that has come to this host since start (a moved service address)
            // is one every account here can connect from: not believed, as at start.
            Peer::Remote(addr) => {
                trusted.contains(&addr.ip()) && !super::settings::is_own_address(addr.ip())
            }
        }
    }

    /// What the proxy says about `request`, or `None` when it did not come from the proxy (then
    /// nothing in its headers is believed, not even for a log line).
    pub fn claim(&self, request: &Request) -> Option<Claim> {
        let peer = request.extensions().get::<ConnectInfo<Peer>>()?;
        if !self.is_proxy(&peer.0) {
            return None;
        }
        // Sent twice, the header names nobody: a proxy that adds its own beside the client's
        // passes both, and the client's would choose whom a refusal is counted against (red
        // team: each made-up name had a line, and 4,100 of them hid a person's).
        let mut sent = request.headers().get_all(self.header()).iter();
        let (name, counted_as) = match (sent.next(), sent.next()) {
            (Some(value), None) => {
                let name = name_of(value);
                let counted_as = self.counted_as(&name);
                (Some(name), counted_as)
            }
            (None, _) => (None, String::new()),
            (Some(_), Some(_)) => (None, "\nthe user header more than once".to_owned()),
        };
        Some(Claim {
            name,
            counted_as,
            remote: client_address(request, Some(&peer.0), true),
        })
    }

    /// What the refusals of the proxy's `name` are counted against in the audit log: the login
    /// it maps to, so that the spellings the map takes for one (`user-map-lowercase`) count as
    /// one, not each a line a minute (red team: 32 spellings of one login, 32 lines in a
    /// second); every name that maps to none counts together.
    pub fn counted_as(&self, name: &str) -> String {
        map_user(&self.settings.declared, name).unwrap_or_else(|| "\nnot mapped".to_owned())
    }

    /// The header that names the person (`user-header`).
    fn header(&self) -> &HeaderName {
        &self.settings.declared.user_header
    }

    /// The person the proxy's `name` stands for, or why they are refused.
    fn person(&self, name: &str) -> Result<Person, Refusal> {
        let user = map_user(&self.settings.declared, name).ok_or(Refusal::Unmapped)?;
        let (identity, account) = served(&self.settings, &user, true)?;
        self.people
            .person(identity, account)
            .ok_or(Refusal::NoKeysFile(user))
    }
}

/// Middleware: finds the person the proxy names, or answers 401 (no name, or a name from
/// anywhere but the proxy) or 403 (a name keyhatch does not serve).
pub async fn require_person(
    State(site): State<Arc<Site>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|p| p.0.clone());
    // A proxy that adds its header beside the client's own passes both: then neither is
    // believed, or the client would choose whom it is.
    let header = site.header();
    let named_once = request.headers().get_all(header).iter().count() == 1;
    // Read as UTF-8, not only as ASCII: a site's names may go beyond it (`alıce`), and a name
    // that is not UTF-8 at all is judged, and refused, as any unknown name, with a way out,
    // not taken for a missing header.
    let named = request
        .headers()
        .get(header)
        .filter(|_| named_once)
        .map(name_of);
    let from_proxy = peer.as_ref().is_some_and(|p| site.is_proxy(p));
    let remote = client_address(&request, peer.as_ref(), from_proxy);
    // Every line here is a refusal, and its account a name as sent, not yet an account; each
    // is written once a minute for the proxy's name, or for its reason where no one can
    // believe the name, with a count of the rest, as a client may send them without end.
    // `why` is the reason counted against where the name is not believed; `outcome` says it,
    // with what was sent.
    let record = |account: &str, believed: bool, why: &str, outcome: &str| {
        let against = if believed {
            site.counted_as(account)
        } else {
            format!("\n{why}")
        };
        let event = Event {
            action: "refused",
            account,
            remote: &remote,
            fingerprint: None,
            outcome,
        };
        site.audit.record_claimed_refusal(&event, &against);
    };
    let Some(name) = named.filter(|_| from_proxy) else {
        if let Some(claimed) = request
            .headers()
            .get(header)
            .filter(|_| !from_proxy)
            .map(name_of)
        {
            crate::metrics::refused("user header not from the proxy");
            let why = "user header from a peer that is not the proxy";
            record(&claimed, false, why, why);
        } else if request.headers().contains_key(header) && !named_once {
            crate::metrics::refused("user header twice");
            // Named nobody, as at the door: the first is most often the client's own (red team).
            // The names sent are in the outcome, bytes that are not UTF-8 as `\xNN`.
            let sent: Vec<String> = request
                .headers()
                .get_all(header)
                .iter()
                .map(name_of)
                .collect();
            let why =
                "the proxy sent the user header more than once: it passes on the client's own";
            let outcome = format!(
                "the proxy sent the user header more than once ({}): it passes on the client's own",
                sent.join(", ")
            );
            record("", false, why, &outcome);
        } else if from_proxy && !request.headers().contains_key(header) {
            crate::metrics::refused("no user header");
        }
        if from_proxy && !request.headers().contains_key(header) && first_on_this_connection() {
            // Everyone gets this 401 while the proxy is set up wrong: warned once per
            // connection, not once per request, and audited once a minute.
            let why = format!(
                "the proxy sent a request without the {} header (user-header) that names the \
                 person; everyone gets 401 until the proxy sets it",
                header.as_str()
            );
            tracing::warn!("{why}");
            site.audit.record_refusal(&Event {
                action: "refused",
                account: "",
                remote: &remote,
                fingerprint: None,
                outcome: &why,
            });
        }
        let page = PlainPage::new(
            StatusCode::UNAUTHORIZED,
            "Log in",
            "Log in through your site",
        )
        .para(&[Part::Text(
            "keyhatch is reached through your site's login page. Open it at the address \
                 your site gave you.",
        )]);
        return answer_unread(request, page.answer()).await;
    };
    match site.person(&name) {
        Ok(person) => {
            let place = match person.limits.send_answer(person.uid) {
                Ok(place) => place,
                Err(refused) => {
                    site.audit.record_refusal(&Event {
                        action: "refused",
                        account: &person.account.user,
                        remote: &remote,
                        fingerprint: None,
                        outcome: "answers on their way",
                    });
                    let refused = refused.to_string();
                    let page = PlainPage::new(StatusCode::TOO_MANY_REQUESTS, "Wait", "Wait")
                        .para(&[Part::Text(&refused)]);
                    return answer_unread(request, page.answer()).await;
                }
            };
            request.extensions_mut().insert(ClientAddr(remote));
            request.extensions_mut().insert(person);
            let unsent = request.extensions().get::<Unsent>().cloned();
            next.run(request)
                .await
                .map(|body| sending::Sending::holding(body, place, unsent))
        }
        Err(refusal) => {
            let (why, mut page) = refusal_page(&refusal);
            // The sign-in is the proxy's: its sign-out is the way to try another login.
            if let Some(logout) = &site.settings.declared.logout_url {
                page = page.para(&[
                    Part::Text("To sign in with another login, "),
                    Part::Link("log out", logout),
                    Part::Text(" first."),
                ]);
            }
            crate::metrics::refused(why);
            record(&name, true, why, why);
            answer_unread(request, page.answer()).await
        }
    }
}

/// Whether no request of the connection being served (hyper serves each in a task of its own)
/// has been noted before; the last 256 connections are remembered.
fn first_on_this_connection() -> bool {
    static NOTED: Mutex<VecDeque<tokio::task::Id>> = Mutex::new(VecDeque::new());
    let Some(connection) = tokio::task::try_id() else {
        return true;
    };
    let mut noted = NOTED.lock().unwrap_or_else(PoisonError::into_inner);
    if noted.contains(&connection) {
        return false;
    }
    if noted.len() == 256 {
        noted.pop_front();
    }
    noted.push_back(connection);
    true
}

/// The client's address: what the proxy reports (`X-Real-IP`, else the first
/// `X-Forwarded-For`), or the connection's own.
fn client_address(request: &Request, peer: Option<&Peer>, from_proxy: bool) -> String {
    let reported = from_proxy
        .then(|| {
            let headers = request.headers();
            headers
                .get("x-real-ip")
                .or_else(|| headers.get("x-forwarded-for"))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_owned())
        })
        .flatten();
    reported.unwrap_or_else(|| peer.map_or_else(|| "unknown".to_owned(), Peer::address))
}

#[cfg(test)]
mod tests;
