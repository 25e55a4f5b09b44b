//! Site mode's login. The site's single sign-on proxy (nginx with oauth2-proxy, Apache with
//! mod_auth_openidc, …) authenticates people and names them in a header. keyhatch trusts that
//! header only on connections from the proxy: on its Unix socket from the proxy's account
//! (`SO_PEERCRED`), on TCP from a configured proxy address (and on loopback, also from the
//! proxy's account: any account on the host can connect from 127.0.0.1). The name maps to an
//! account of the system's user database (NSS, so LDAP and SSSD accounts work); root, system
//! accounts and people outside the allowed group are refused, each with a clear page.

use std::collections::VecDeque;
use std::ffi::CString;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::guard::escape;
use super::page::{answer_unread, plain_page};
use super::peer::Peer;
use crate::api::context::Remote;
use crate::api::helper::Identity;
use crate::audit::{Audit, Event};
use crate::model::{Account, Logout};

/// Who may log in through the proxy, and how its header maps to an account.
#[derive(Clone)]
pub struct Site {
    /// The header that names the person (`X-Forwarded-User`).
    pub header: HeaderName,
    /// The proxy's uid: the only account whose connections may carry the header on the socket
    /// or on loopback.
    pub proxy_uid: Option<u32>,
    /// Addresses the proxy connects from over TCP.
    pub trusted_proxies: Arc<[IpAddr]>,
    /// The rule from the header's value to a login name.
    pub user_map: UserMap,
    /// The lowest uid served: below it are system accounts.
    pub min_uid: u32,
    /// The highest uid served, when the site sets one (`max-uid`).
    pub max_uid: Option<u32>,
    /// The kernel's overflow uid (`nobody`, 65534), never served: files of every unmapped
    /// owner show as it, on NFS and in user namespaces.
    pub overflow_uid: u32,
    /// Only members of this group (name, gid) are served, when set.
    pub allowed_group: Option<(String, u32)>,
    /// Where the profile menu's **Log out** goes (the proxy's sign-out).
    pub logout_url: Option<String>,
    /// Where logins and refusals are recorded.
    pub audit: Audit,
}

/// The person a request is for, found by [`require_person`].
#[derive(Debug, Clone)]
pub struct Person {
    /// Who the helper becomes.
    pub identity: Identity,
    /// What the page shows.
    pub account: Account,
}

/// From the proxy's name for a person to a login name, as Open OnDemand's `user_map_match`:
/// the first capture group of a regular expression (the whole match without one), lowercased
/// when asked.
#[derive(Debug, Clone)]
pub struct UserMap {
    pattern: regex_lite::Regex,
    lowercase: bool,
}

impl UserMap {
    /// The rule `pattern` (e.g. `^([^@]+)@example\.org$`), lowercasing the result when
    /// `lowercase`.
    pub fn new(pattern: &str, lowercase: bool) -> Result<Self, regex_lite::Error> {
        Ok(Self {
            pattern: regex_lite::Regex::new(pattern)?,
            lowercase,
        })
    }

    /// The login name for `name`, or `None` when the rule does not match.
    pub fn map(&self, name: &str) -> Option<String> {
        let captures = self.pattern.captures(name)?;
        let user = captures.get(1).or_else(|| captures.get(0))?.as_str();
        let user = if self.lowercase {
            user.to_lowercase()
        } else {
            user.to_owned()
        };
        (!user.is_empty()).then_some(user)
    }
}

/// What the proxy said about a request before keyhatch checked it: the name in its header
/// (when it sent one) and the client address it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The name in the user header, as sent.
    pub name: Option<String>,
    /// The client address the proxy reported (`X-Real-IP`), else the connection's.
    pub remote: String,
}

/// Why a named person is not served.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Unmapped,
    Unknown(String),
    Root,
    SystemAccount(String, u32),
    Overflow(String, u32),
    AboveMaxUid(String, u32, u32),
    OutsideGroup(String, String),
}

impl Site {
    /// Whether `peer` is the proxy, whose header is believed.
    fn is_proxy(&self, peer: &Peer) -> bool {
        match peer {
            Peer::Unix { uid } => self.proxy_uid.is_some() && *uid == self.proxy_uid,
            Peer::Loopback { addr, uid } => {
                self.trusted_proxies.contains(&addr.ip())
                    && self.proxy_uid.is_some()
                    && *uid == self.proxy_uid
            }
            // An address that has come to this host since start (a moved service address)
            // is one every account here can connect from: not believed, as at start.
            Peer::Remote(addr) => {
                self.trusted_proxies.contains(&addr.ip())
                    && !super::settings::is_own_address(addr.ip())
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
        Some(Claim {
            name: request
                .headers()
                .get(&self.header)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            remote: client_address(request, Some(&peer.0), true),
        })
    }

    /// The account the proxy's `name` stands for, or why it is refused.
    fn person(&self, name: &str) -> Result<Person, Refusal> {
        let user = self.user_map.map(name).ok_or(Refusal::Unmapped)?;
        let entry = nix::unistd::User::from_name(&user)
            .ok()
            .flatten()
            .ok_or_else(|| Refusal::Unknown(user.clone()))?;
        let uid = entry.uid.as_raw();
        if uid == 0 {
            return Err(Refusal::Root);
        }
        if uid < self.min_uid {
            return Err(Refusal::SystemAccount(user, uid));
        }
        if uid == self.overflow_uid {
            return Err(Refusal::Overflow(user, uid));
        }
        if let Some(max) = self.max_uid
            && uid > max
        {
            return Err(Refusal::AboveMaxUid(user, uid, max));
        }
        let groups: Vec<u32> = CString::new(user.clone())
            .ok()
            .and_then(|c| nix::unistd::getgrouplist(&c, entry.gid).ok())
            .unwrap_or_else(|| vec![entry.gid])
            .into_iter()
            .map(nix::unistd::Gid::as_raw)
            .collect();
        if let Some((group, gid)) = &self.allowed_group
            && !groups.contains(gid)
        {
            return Err(Refusal::OutsideGroup(user, group.clone()));
        }
        let gecos = entry.gecos.to_string_lossy();
        let full_name = gecos.split(',').next().unwrap_or("").trim();
        Ok(Person {
            account: Account {
                user: user.clone(),
                display_name: if full_name.is_empty() {
                    user.clone()
                } else {
                    full_name.to_owned()
                },
                logout: self.logout_url.clone().map_or(Logout::Hidden, Logout::Link),
            },
            identity: Identity {
                user,
                uid,
                gid: entry.gid.as_raw(),
                groups,
                home: entry.dir,
            },
        })
    }
}

/// The capabilities starting helpers needs: the helper takes the person's gid and uid. The
/// bounding set keeps only these, so a helper (which starts as root) can have no other.
fn helper_capabilities() -> caps::CapsHashSet {
    [caps::Capability::CAP_SETUID, caps::Capability::CAP_SETGID].into()
}

/// Drops every capability but the two that starting helpers needs (`CAP_SETUID`, `CAP_SETGID`),
/// from the bounding set too, so neither the server nor any helper it starts can regain them;
/// the server itself also keeps `CAP_KILL` when it has it, to kill a helper (running as its
/// person) that outlives its time bound. Called once the socket is bound and given to the
/// proxy, while the process has one thread: Linux keeps capabilities per thread, and a thread
/// started before would keep root's. Refuses when another thread exists already.
pub fn keep_only_helper_capabilities() -> std::io::Result<()> {
    use caps::{CapSet, Capability};
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(std::io::Error::other(format!(
            "capabilities must be dropped before any thread starts, and {threads} threads run"
        )));
    }
    let failed =
        |e: caps::errors::CapsError| std::io::Error::other(format!("dropping capabilities: {e}"));
    let bounding = helper_capabilities();
    let mut keep = bounding.clone();
    if caps::has_cap(None, CapSet::Permitted, Capability::CAP_KILL).map_err(failed)? {
        keep.insert(Capability::CAP_KILL);
    } else {
        tracing::warn!(
            "without CAP_KILL, a helper that outlives helper-timeout cannot be killed: its \
             person's request is answered, but the helper stays until it ends by itself"
        );
    }
    for cap in caps::all().difference(&bounding) {
        caps::drop(None, CapSet::Bounding, *cap).map_err(failed)?;
    }
    caps::clear(None, CapSet::Ambient).map_err(failed)?;
    caps::clear(None, CapSet::Inheritable).map_err(failed)?;
    caps::set(None, CapSet::Effective, &keep).map_err(failed)?;
    caps::set(None, CapSet::Permitted, &keep).map_err(failed)
}

/// Checks that every thread of the process holds at most the helper capabilities and
/// `CAP_KILL` (effective, permitted), only the helper capabilities in its bounding set, and none
/// inheritable or ambient, from `/proc/self/task/*/status`.
pub fn check_every_thread_is_narrowed() -> std::io::Result<()> {
    let bounding = helper_capabilities()
        .iter()
        .fold(0u64, |mask, cap| mask | cap.bitmask());
    let keep = bounding | caps::Capability::CAP_KILL.bitmask();
    for task in std::fs::read_dir("/proc/self/task")? {
        let task = task?;
        // A thread that ended meanwhile has nothing left to check.
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let allowed = match name {
                "CapEff" | "CapPrm" => keep,
                "CapBnd" => bounding,
                "CapInh" | "CapAmb" => 0,
                _ => continue,
            };
            let held = u64::from_str_radix(value.trim(), 16).map_err(std::io::Error::other)?;
            if held & !allowed != 0 {
                return Err(std::io::Error::other(format!(
                    "thread {} holds capabilities it must not ({name} {held:x})",
                    task.file_name().to_string_lossy()
                )));
            }
        }
    }
    Ok(())
}

/// Middleware: finds the person the proxy names, or answers 401 (no name, or a name from
/// anywhere but the proxy) or 403 (a name keyhatch does not serve).
pub async fn require_person(
    State(site): State<Site>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|p| p.0.clone());
    let named = request
        .headers()
        .get(&site.header)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_proxy = peer.as_ref().is_some_and(|p| site.is_proxy(p));
    let remote = client_address(&request, peer.as_ref(), from_proxy);
    // Every line here is a refusal, and its account a name as sent, not yet an account.
    let record = |account: &str, action: &str, outcome: &str| {
        site.audit.record_claimed(&Event {
            action,
            account,
            remote: &remote,
            fingerprint: None,
            outcome,
        });
    };
    let Some(name) = named.filter(|_| from_proxy) else {
        if let Some(claimed) = request
            .headers()
            .get(&site.header)
            .filter(|_| !from_proxy)
            .and_then(|v| v.to_str().ok())
        {
            record(
                claimed,
                "refused",
                "user header from a peer that is not the proxy",
            );
        } else if from_proxy
            && !request.headers().contains_key(&site.header)
            && first_on_this_connection()
        {
            // Everyone gets this 401 while the proxy is set up wrong: said once per connection,
            // not once per request.
            let why = format!(
                "the proxy sent a request without the {} header (user-header) that names the \
                 person; everyone gets 401 until the proxy sets it",
                site.header.as_str()
            );
            tracing::warn!("{why}");
            site.audit.record(&Event {
                action: "refused",
                account: "",
                remote: &remote,
                fingerprint: None,
                outcome: &why,
            });
        }
        let page = plain_page(
            StatusCode::UNAUTHORIZED,
            "Log in · keyhatch",
            "<h1>Log in through your site</h1><p>keyhatch is reached through your site's login \
             page. Open it at the address your site gave you.</p>",
        );
        return answer_unread(request, page).await;
    };
    match site.person(&name) {
        Ok(person) => {
            request.extensions_mut().insert(Remote(remote));
            request.extensions_mut().insert(person);
            next.run(request).await
        }
        Err(refusal) => {
            let (why, page) = refusal_page(&refusal);
            record(&name, "refused", why);
            let page = plain_page(StatusCode::FORBIDDEN, "Not served · keyhatch", &page);
            answer_unread(request, page).await
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

fn refusal_page(refusal: &Refusal) -> (&'static str, String) {
    match refusal {
        Refusal::Unmapped => (
            "name does not match the user map",
            "<h1>Unknown person</h1><p>Your login name does not match any account on this \
             cluster. Ask your administrator.</p>"
                .to_owned(),
        ),
        Refusal::Unknown(user) => (
            "no such account",
            format!(
                "<h1>No account</h1><p>There is no account <b>{}</b> on this cluster. Ask your \
                 administrator.</p>",
                escape(user)
            ),
        ),
        Refusal::Root => (
            "root",
            "<h1>Not for root</h1><p>keyhatch does not manage root's SSH keys.</p>".to_owned(),
        ),
        Refusal::SystemAccount(user, uid) => (
            "system account",
            format!(
                "<h1>Not for system accounts</h1><p><b>{}</b> (uid {uid}) is a system account; \
                 keyhatch manages the keys of people's accounts only.</p>",
                escape(user)
            ),
        ),
        Refusal::Overflow(user, uid) => (
            "the overflow account",
            format!(
                "<h1>Not for this account</h1><p><b>{}</b> (uid {uid}) is the system's \
                 overflow account, which stands for every owner the system cannot map; \
                 keyhatch manages the keys of people's accounts only.</p>",
                escape(user)
            ),
        ),
        Refusal::AboveMaxUid(user, uid, max) => (
            "above max-uid",
            format!(
                "<h1>Not for this account</h1><p><b>{}</b> (uid {uid}) is above the highest \
                 uid this keyhatch serves ({max}). Ask your administrator.</p>",
                escape(user)
            ),
        ),
        Refusal::OutsideGroup(user, group) => (
            "outside the allowed group",
            format!(
                "<h1>Not allowed</h1><p><b>{}</b> is not in the group <b>{}</b>, whose members \
                 this keyhatch serves. Ask your administrator.</p>",
                escape(user),
                escape(group)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_map_takes_the_first_group_and_lowercases_when_asked() {
        let map = UserMap::new(r"^([^@]+)@example\.org$", true).unwrap();
        assert_eq!(map.map("Alice@example.org").as_deref(), Some("alice"));
        assert_eq!(map.map("alice@evil.org"), None);
        let plain = UserMap::new("^.+$", false).unwrap();
        assert_eq!(plain.map("Bob").as_deref(), Some("Bob"));
    }

    fn site() -> Site {
        Site {
            header: HeaderName::from_static("x-forwarded-user"),
            proxy_uid: Some(33),
            trusted_proxies: Arc::from([IpAddr::from([127, 0, 0, 1]), IpAddr::from([10, 0, 0, 5])]),
            user_map: UserMap::new("^(.+)$", false).unwrap(),
            min_uid: 1000,
            max_uid: None,
            overflow_uid: 65534,
            allowed_group: None,
            logout_url: None,
            audit: Audit::to_stderr(),
        }
    }

    #[test]
    fn only_the_proxy_is_believed() {
        let site = site();
        let loopback = |uid| Peer::Loopback {
            addr: "127.0.0.1:5000".parse().unwrap(),
            uid,
        };
        assert!(site.is_proxy(&Peer::Unix { uid: Some(33) }));
        assert!(!site.is_proxy(&Peer::Unix { uid: Some(1000) }));
        assert!(site.is_proxy(&loopback(Some(33))));
        assert!(
            !site.is_proxy(&loopback(Some(1000))),
            "loopback alone proves nothing"
        );
        assert!(site.is_proxy(&Peer::Remote("10.0.0.5:4000".parse().unwrap())));
        assert!(!site.is_proxy(&Peer::Remote("10.0.0.6:4000".parse().unwrap())));
    }

    #[test]
    fn root_system_accounts_and_unknown_names_are_refused() {
        let site = site();
        assert_eq!(site.person("root").unwrap_err(), Refusal::Root);
        assert!(matches!(
            site.person("daemon"),
            Err(Refusal::SystemAccount(_, 1))
        ));
        assert!(matches!(
            site.person("no-such-account-keyhatch"),
            Err(Refusal::Unknown(_))
        ));
    }

    #[test]
    fn the_overflow_account_is_refused_and_max_uid_caps_the_rest() {
        let mut site = site();
        let nobody = nix::unistd::User::from_uid(65534.into()).unwrap().unwrap();
        assert!(matches!(
            site.person(&nobody.name),
            Err(Refusal::Overflow(_, 65534))
        ));
        site.overflow_uid = 4_000_000;
        site.min_uid = 1;
        site.max_uid = Some(999);
        assert!(matches!(
            site.person(&nobody.name),
            Err(Refusal::AboveMaxUid(_, 65534, 999))
        ));
        site.max_uid = Some(65534);
        assert!(site.person(&nobody.name).is_ok());
    }
}
