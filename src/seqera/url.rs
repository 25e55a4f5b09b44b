//! Where the site's Platform is.

use std::net::IpAddr;

/// Platform's API, as the site set it: `https://…`, or `http://` on loopback only. A path is
/// kept (`https://seqera.example.org/api`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformUrl(String);

impl PlatformUrl {
    /// Accepts an `https://` URL, or an `http://` one whose host is loopback; no query, no
    /// fragment, no user name or password.
    pub fn parse(s: &str) -> Result<Self, InvalidUrl> {
        let invalid = |why: &'static str| InvalidUrl {
            url: s.to_owned(),
            why,
        };
        let (scheme, rest) = s.split_once("://").ok_or(invalid("it has no scheme"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(invalid("it has no host"));
        }
        if authority.contains('@') || rest.contains(['?', '#', ' ']) {
            return Err(invalid(
                "it may not carry a user name, a query, a fragment or blanks",
            ));
        }
        match scheme {
            "https" => {}
            "http" if is_loopback(authority) => {}
            "http" => {
                return Err(invalid(
                    "plain http:// would carry tokens and private keys in the clear; it is accepted only on loopback",
                ));
            }
            _ => return Err(invalid("it must start with https://")),
        }
        Ok(Self(s.trim_end_matches('/').to_owned()))
    }

    /// The URL of the API path `path` (which starts with `/`), below any path of the base.
    pub(super) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// Platform's web pages, for links: the API URL without a final `/api`, or without the
    /// `api.` of its host (`https://api.cloud.seqera.io` → `https://cloud.seqera.io`).
    pub fn web(&self) -> String {
        if let Some(base) = self.0.strip_suffix("/api") {
            return base.to_owned();
        }
        match self.0.split_once("://api.") {
            Some((scheme, host)) => format!("{scheme}://{host}"),
            None => self.0.clone(),
        }
    }

    /// The URL as given, without a final `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `authority` (`host[:port]`) names this host.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A Platform URL keyhatch refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seqera-url {url:?}: {why}")]
pub struct InvalidUrl {
    url: String,
    why: &'static str,
}
