//! The addresses the page links to and the server answers, in one place, and the path keyhatch
//! is served under (`Base`): everything it links to or answers is under it.

use std::sync::Arc;

/// The path of the SSH Keys page, under the base.
pub const SSH_KEYS_PATH: &str = "/ssh-keys";

/// Where the profile menu's **Log out** form posts (local mode), under the base; the server ends
/// the session there.
pub const LOGOUT_PATH: &str = "/logout";

/// Where keyhatch is served on its host: empty at the host's root, `/keys` under
/// `https://portal.example.org/keys/` (site mode's `public-url`). The page names every address
/// with it; the server takes it off each request's path before routing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Base(Arc<str>);

impl Base {
    /// The base of `path`, a URL's path as checked by `Base::parse`.
    fn new(path: &str) -> Self {
        Self(path.trim_end_matches('/').into())
    }

    /// The base named by the path of a public URL: `/` or empty for the root, else segments of
    /// letters, digits and `-._~` (no `.` or `..` segment), with or without a trailing slash.
    /// Anything else is refused with why: the base is written into links, redirects and the
    /// page's script, so it holds nothing that would need escaping anywhere.
    pub fn parse(path: &str) -> Result<Self, String> {
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            return if path.len() <= 1 {
                Ok(Self::default())
            } else {
                Err(format!("path {path} has more than one slash"))
            };
        }
        if path.len() > trimmed.len() + 1 {
            return Err(format!("path {path} ends in more than one slash"));
        }
        let Some(segments) = trimmed.strip_prefix('/') else {
            return Err(format!("path {path} must start with /"));
        };
        for segment in segments.split('/') {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(format!("path {path} has an empty, . or .. segment"));
            }
            if !segment.chars().all(allowed) {
                return Err(format!(
                    "path {path} may hold only letters, digits, -, ., _, ~ and /"
                ));
            }
        }
        Ok(Self::new(path))
    }

    /// The base as a path prefix: empty, or `/keys` (never a trailing slash).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `path` (which starts with `/`) under the base: `/keys/ssh-keys`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The rest of `path` under the base (`/ssh-keys` of `/keys/ssh-keys`, `/` of `/keys`), or
    /// `None` when it is not under it (`/keysmith`, `/other`).
    pub fn strip<'a>(&self, path: &'a str) -> Option<&'a str> {
        match path.strip_prefix(&*self.0)? {
            "" => Some("/"),
            rest if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }

    /// The base of the page being rendered: the server's setting, or in the browser the one the
    /// server wrote into the document (`<html data-base>`).
    pub fn current() -> Self {
        #[cfg(feature = "ssr")]
        return leptos::prelude::use_context::<Self>().unwrap_or_default();
        #[cfg(not(feature = "ssr"))]
        return BROWSER_BASE.with(Clone::clone);
    }
}

#[cfg(not(feature = "ssr"))]
thread_local! {
    /// The base the server wrote into the page, read once.
    static BROWSER_BASE: Base = Base::new(
        &leptos::prelude::document()
            .document_element()
            .and_then(|html| html.get_attribute("data-base"))
            .unwrap_or_default(),
    );
}

/// The SSH Keys page's address, under the base.
pub fn ssh_keys_url() -> String {
    Base::current().join(SSH_KEYS_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_is_parsed_from_a_public_url_path() {
        assert_eq!(Base::parse("").unwrap().as_str(), "");
        assert_eq!(Base::parse("/").unwrap().as_str(), "");
        assert_eq!(Base::parse("/keys").unwrap().as_str(), "/keys");
        assert_eq!(Base::parse("/keys/").unwrap().as_str(), "/keys");
        assert_eq!(
            Base::parse("/a/b-c_d.e~f/").unwrap().as_str(),
            "/a/b-c_d.e~f"
        );
        for bad in [
            "//",
            "/keys//",
            "keys",
            "/a//b",
            "/./",
            "/a/../b",
            "/k%2Fx",
            "/k\"x",
            "/k x",
            "/ключи",
        ] {
            assert!(Base::parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn paths_are_joined_under_the_base_and_stripped_back() {
        let keys = Base::parse("/keys/").unwrap();
        assert_eq!(keys.join(SSH_KEYS_PATH), "/keys/ssh-keys");
        assert_eq!(keys.strip("/keys/ssh-keys"), Some("/ssh-keys"));
        assert_eq!(keys.strip("/keys/"), Some("/"));
        assert_eq!(keys.strip("/keys"), Some("/"));
        assert_eq!(keys.strip("/keysmith/x"), None);
        assert_eq!(keys.strip("/other/keys/"), None);
        assert_eq!(keys.strip("/"), None);
        let root = Base::default();
        assert_eq!(root.join(SSH_KEYS_PATH), "/ssh-keys");
        assert_eq!(root.strip("/anything"), Some("/anything"));
    }
}
