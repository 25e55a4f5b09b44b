//! Site mode's settings, checked at start: keyhatch must be root, must know its public address
//! and its proxy, and its bounds must be ones a person can work within.

use std::net::IpAddr;
use std::sync::Arc;

use super::error::SettingsError;
use super::site_checks::{self, own_addresses};
use crate::declared::{self, Limits};
use crate::paths::Base;

/// Site mode's settings: the group as declared, and what the checks at start found from it.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    /// The settings as declared: the header, the user map, the uids served, where Log out goes.
    pub declared: declared::Site,
    /// The host of `public-url`: the name people reach keyhatch by.
    pub public_host: String,
    /// The path of `public-url`, which keyhatch serves everything under.
    pub base: Base,
    /// The proxy's account and uid.
    pub proxy: Option<(String, u32)>,
    /// Addresses the proxy connects from over TCP, in the form connections are compared in.
    pub trusted_proxies: Arc<[IpAddr]>,
    /// The kernel's overflow uid (`nobody`), never served.
    pub overflow_uid: u32,
    /// The only group served (name, gid), when set.
    pub allowed_group: Option<(String, u32)>,
    /// The account the health check's helper becomes.
    pub health_account: HealthAccount,
}

/// The account the health check's helper becomes (see [`health_account`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthAccount {
    /// Its login name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

/// The system account the package makes for the health check.
const PACKAGE_HEALTH_ACCOUNT: &str = "keyhatch";

impl SiteSettings {
    /// The proxy's uid, when `proxy-user` is set.
    pub fn proxy_uid(&self) -> Option<u32> {
        self.proxy.as_ref().map(|(_, uid)| *uid)
    }
}

/// Site mode's settings: keyhatch must be root (it starts helpers as each person), must know
/// its public address (it answers only that host) and its proxy, or anyone could name
/// themselves.
pub(super) fn settings(
    uid: u32,
    site: declared::Site,
    limits: &Limits,
) -> Result<SiteSettings, SettingsError> {
    let refuse = |message: String| SettingsError::Site(message);
    if uid != 0 {
        return Err(refuse(
            "keyhatch must run as root to start helpers as each person (for your own keys \
             only, pass --mode local)"
                .into(),
        ));
    }
    let url = site
        .public_url
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            refuse(
                "public-url is not set. Set it to the address people open, e.g. \
             public-url = \"https://keys.example.org\" in the settings file (or \
             --public-url): keyhatch answers only its host, so without it every \
             request would be refused"
                    .into(),
            )
        })?;
    let (public_host, base) = host_and_base(&url)?;
    if let Some(logout) = &site.logout_url {
        check_logout_url(logout)?;
    }
    let proxy = match site.proxy_user.clone() {
        Some(name) => {
            let user = nix::unistd::User::from_name(&name).ok().flatten();
            let user =
                user.ok_or_else(|| refuse(format!("proxy-user {name} is not an account here")))?;
            Some((name, user.uid.as_raw()))
        }
        None => None,
    };
    let trusted_proxies = site_checks::check_trusted_proxies(
        site.trusted_proxies.clone(),
        &own_addresses(),
        proxy.is_some(),
    )?;
    if proxy.is_none() && trusted_proxies.is_empty() {
        return Err(refuse(
            "set proxy-user (the proxy's account, for the socket) or trusted-proxies (its \
             addresses): otherwise anyone could name themselves"
                .into(),
        ));
    }
    let allowed_group = match site.allowed_group.clone() {
        Some(name) => {
            let group = nix::unistd::Group::from_name(&name).ok().flatten();
            let group =
                group.ok_or_else(|| refuse(format!("allowed-group {name} is not a group here")))?;
            Some((name, group.gid.as_raw()))
        }
        None => None,
    };
    site_checks::check_uid_range(site.min_uid, site.max_uid)?;
    let overflow_uid = site_checks::overflow_uid();
    let health_account = health_account(&site, overflow_uid, proxy.as_ref().map(|p| p.1))?;
    if limits.helper_timeout <= limits.lock_timeout {
        return Err(refuse(format!(
            "helper-timeout ({} s) must be longer than lock-timeout ({} s): a helper waits \
             that long for another program's lock",
            limits.helper_timeout, limits.lock_timeout
        )));
    }
    if limits.max_in_flight == 0 {
        return Err(refuse("max-in-flight must be at least 1".into()));
    }
    Ok(SiteSettings {
        declared: site,
        public_host,
        base,
        proxy,
        trusted_proxies: trusted_proxies.into(),
        overflow_uid,
        allowed_group,
        health_account,
    })
}

/// The account the health check's helper becomes: `health-account`, or else the package's
/// system account `keyhatch`, or else `nobody`. Whoever runs as it can stop or kill that helper,
/// and `/healthz` then fails although people are served: so never root, and never an account
/// keyhatch serves (its person could do it at will).
fn health_account(
    site: &declared::Site,
    overflow_uid: u32,
    proxy_uid: Option<u32>,
) -> Result<HealthAccount, SettingsError> {
    let lookup = |name: &str| {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|user| HealthAccount {
                name: name.to_owned(),
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
    };
    // Why `account` cannot be the health check's, if it cannot.
    let unfit = |account: &HealthAccount| -> Option<&'static str> {
        let served = account.uid >= site.min_uid
            && account.uid != overflow_uid
            && site.max_uid.is_none_or(|max| account.uid <= max);
        if account.uid == 0 {
            Some("root")
        } else if account.gid == 0 {
            // The helper never takes gid 0: the check would fail for good.
            Some("in group root")
        } else if served {
            Some("an account keyhatch serves")
        } else if proxy_uid == Some(account.uid) {
            Some("the proxy's account (proxy-user)")
        } else {
            None
        }
    };
    let Some(name) = &site.health_account else {
        // The package's account; where there is none, or it will not do (a min-uid set below
        // the system accounts, say), nobody, which start warns of.
        if let Some(package) = lookup(PACKAGE_HEALTH_ACCOUNT).filter(|a| unfit(a).is_none()) {
            return Ok(package);
        }
        let nobody = lookup("nobody").unwrap_or(HealthAccount {
            name: "nobody".into(),
            uid: overflow_uid,
            gid: overflow_uid,
        });
        // The proxy's own account, say (red team): the same rules as for one named.
        if let Some(why) = unfit(&nobody) {
            return Err(SettingsError::Site(format!(
                "the health check's helper would become nobody, which is {why}: set \
                 health-account to a system account no one else runs as, such as the \
                 package's {PACKAGE_HEALTH_ACCOUNT}"
            )));
        }
        return Ok(nobody);
    };
    let account = lookup(name).ok_or_else(|| {
        SettingsError::Site(format!(
            "health-account {name} is not an account here (the package makes the system \
             account {PACKAGE_HEALTH_ACCOUNT} for it)"
        ))
    })?;
    if let Some(why) = unfit(&account) {
        return Err(SettingsError::Site(format!(
            "health-account {} (uid {}) is {why}: the health check's helper must become a \
             system account no one else runs as, such as the package's \
             {PACKAGE_HEALTH_ACCOUNT}",
            account.name, account.uid,
        )));
    }
    Ok(account)
}

/// The host of `url`, as a Host header names it without its port, and the base its path names:
/// `keys.example.org` and `/keys` of `https://keys.example.org:8443/keys/`.
fn host_and_base(url: &str) -> Result<(String, Base), SettingsError> {
    let bad = |why: &str| {
        SettingsError::Site(format!(
            "public-url {url} must be http(s)://HOST[:PORT][/PATH/]{why}"
        ))
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad(""))?;
    if rest.contains(['?', '#']) {
        return Err(bad(", with no query or fragment"));
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 address, in brackets.
        Some(v6) => {
            let (address, after) = v6.split_once(']').ok_or_else(|| bad(""))?;
            if address.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad(&format!(": {address} is not an IPv6 address")));
            }
            match after {
                "" => (address, None),
                _ => (
                    address,
                    Some(after.strip_prefix(':').ok_or_else(|| bad(""))?),
                ),
            }
        }
        // A DNS name or an IPv4 address: letters, digits, '-' and '.'.
        None => {
            let (host, port) = authority
                .split_once(':')
                .map_or((authority, None), |(h, p)| (h, Some(p)));
            if !is_host_name(host) {
                return Err(bad(", with a host name or address"));
            }
            (host, port)
        }
    };
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(bad(&format!(": port {port:?} is not a port")));
    }
    let base = Base::parse(path).map_err(|why| bad(&format!(": its {why}")))?;
    Ok((host.to_owned(), base))
}

/// Whether `host` is an IPv4 address or a DNS name as a Host header carries it: labels of
/// letters, digits and inner `-`, no empty label (so no trailing dot: browsers send the name
/// without it), and not all digits unless it is an IPv4 address.
fn is_host_name(host: &str) -> bool {
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.len() <= 253
        && host.split('.').all(label)
        && !host
            .split('.')
            .all(|l| l.chars().all(|c| c.is_ascii_digit()))
}

/// `logout-url` is a link on keyhatch's pages: an address on the same site (`/oauth2/sign_out`)
/// or an http(s) one, never a script (`javascript:`) or another scheme.
fn check_logout_url(url: &str) -> Result<(), SettingsError> {
    let on_this_site = url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\");
    let web = (url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://")))
    .is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', '?', '#']));
    let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if (on_this_site || web) && clean {
        Ok(())
    } else {
        Err(SettingsError::Site(format!(
            "logout-url {url} must be a path on this site (/oauth2/sign_out) or an http(s) \
             address, with no blank"
        )))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::declared::Cli;

    fn health(flags: &[&str]) -> Result<HealthAccount, SettingsError> {
        let cli = Cli::parse_from(["keyhatch", "--mode=site"].iter().chain(flags));
        health_account(&cli.site, 65534, Some(33))
    }

    fn refusal(flags: &[&str]) -> String {
        health(flags).unwrap_err().to_string()
    }

    #[test]
    fn the_health_account_is_a_system_account_nobody_is_served_as() {
        let daemon = health(&["--health-account", "daemon"]).unwrap();
        assert_eq!((daemon.name.as_str(), daemon.uid), ("daemon", 1));
        let nobody = health(&["--health-account", "nobody"]).unwrap();
        assert_eq!(nobody.uid, 65534);
        let root = refusal(&["--health-account", "root"]);
        assert!(root.contains("(uid 0) is root"), "{root}");
        let served = refusal(&["--health-account", "daemon", "--min-uid", "1"]);
        assert!(served.contains("an account keyhatch serves"), "{served}");
        let proxy = refusal(&["--health-account", "www-data"]);
        assert!(proxy.contains("the proxy's account"), "{proxy}");
        let missing = refusal(&["--health-account", "khnosuchaccount"]);
        let cli = Cli::parse_from(["keyhatch", "--mode=site"]);
        let overflow = nix::unistd::User::from_name("nobody")
            .unwrap()
            .unwrap()
            .uid
            .as_raw();
        if nix::unistd::User::from_name(PACKAGE_HEALTH_ACCOUNT)
            .unwrap()
            .is_none()
        {
            let proxy_nobody = health_account(&cli.site, 65534, Some(overflow)).unwrap_err();
            assert!(
                proxy_nobody.to_string().contains("proxy's account"),
                "{proxy_nobody}"
            );
        }
        assert!(missing.contains("is not an account here"), "{missing}");
    }
}
