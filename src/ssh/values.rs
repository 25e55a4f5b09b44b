//! The values keyhatch writes with a key or checks at start: the options before each key, where
//! the file lies below a home, and a passphrase.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::allowed_from::{AllowedFrom, InvalidFrom};
use super::authorized_keys;
use super::expiry::{Date, Expiry};
use super::options;
use super::setting::InvalidSetting;
use super::store::{self, AuthorizedKeys};

/// What the site's `from=` is, in a sentence that refuses a key's.
pub(super) const SITE_FROM: &str = "which the site's key-options require";

/// The options field written before each new key (default `restrict,pty`); may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOptions(String);

impl KeyOptions {
    /// The default: no forwarding of any kind, but an interactive terminal is allowed.
    pub const DEFAULT: &'static str = "restrict,pty";

    /// Accepts an options field sshd reads as one: printable, no blank outside `"…"`, quotes
    /// closed, at most one `from=` whose patterns keyhatch can combine with a person's, and
    /// `expiry-time`s it can compare. An empty string means no options.
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        let printable = s.chars().all(|c| !c.is_control());
        let one_field = authorized_keys::options_len(s.as_bytes()) == Some(s.len());
        let from_read = AllowedFrom::of_options(s.as_bytes()).is_none_or(|from| from.is_ok());
        let expiry_read = Expiry::earliest_readable(s.as_bytes()).is_ok();
        if printable && one_field && from_read && expiry_read && !s.starts_with('#') {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidSetting::KeyOptions(s.to_owned()))
        }
    }

    /// The options as written before the key type, possibly empty.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where these options let a key in from: their `from=`, if any (checked when parsed).
    pub fn allowed_from(&self) -> Option<AllowedFrom> {
        AllowedFrom::of_options(self.0.as_bytes()).and_then(Result::ok)
    }

    /// These options, letting the key in only where `from` allows and their own `from=` does
    /// too: one `from=` (sshd skips a line with two) that allows only what both allow.
    pub fn allowing_from(&self, from: &AllowedFrom) -> Result<Self, InvalidFrom> {
        let combined = match self.allowed_from() {
            Some(required) => from.within(&required, SITE_FROM)?,
            None => from.clone(),
        };
        let field = options::replaced(self.0.as_bytes(), &["from"], &[combined.option()]);
        Ok(Self(String::from_utf8(field).expect("text in, text out")))
    }

    /// These options and an `expiry-time` that makes sshd refuse the key from `date` on.
    pub fn expiring(&self, date: Date) -> Self {
        let expiry = Expiry::option(date);
        match self.0.as_str() {
            "" => Self(expiry),
            options => Self(format!("{options},{expiry}")),
        }
    }
}

impl Default for KeyOptions {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// Where keyhatch writes keys, as sshd's `AuthorizedKeysFile` names it: below the home,
/// relative to it or starting with `%h/`, with `%u` for the login name and `%%` for a percent
/// sign (default `.ssh/authorized_keys`). A file outside the home could not be written as the
/// person, so it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysFile(String);

impl KeysFile {
    /// Where sshd reads keys by default.
    pub const DEFAULT: &'static str = store::DEFAULT_LOCATION;

    /// Accepts a pattern that names a file in a directory below the home for any login name.
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        let pattern = Self(s.to_owned());
        match pattern.below_home("user") {
            Some(_) => Ok(pattern),
            None => Err(InvalidSetting::KeysFile(s.to_owned())),
        }
    }

    /// The file's path below the home of `user`; `None` when the pattern or the name would
    /// leave the home.
    pub fn below_home(&self, user: &str) -> Option<PathBuf> {
        if user.is_empty() || user.contains('/') || user == "." || user == ".." {
            return None;
        }
        let pattern = self.0.strip_prefix("%h/").unwrap_or(&self.0);
        let mut path = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match (c, c == '%') {
                (_, false) => path.push(c),
                (_, true) => match chars.next() {
                    Some('u') => path.push_str(user),
                    Some('%') => path.push('%'),
                    _ => return None,
                },
            }
        }
        let path = PathBuf::from(path);
        AuthorizedKeys::at(Path::new("/"), &path).map(|_| path)
    }

    /// The keys file of `user`, whose home is `home`.
    pub fn of(&self, home: &Path, user: &str) -> Option<AuthorizedKeys> {
        AuthorizedKeys::at(home, &self.below_home(user)?)
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for KeysFile {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// A passphrase for a new private key: never empty, wiped from memory when dropped, never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Takes a passphrase; an empty one means "no passphrase" and gives `None`.
    pub fn new(s: String) -> Option<Self> {
        let s = Zeroizing::new(s);
        (!s.is_empty()).then(|| Self(s))
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The passphrase itself, to hand on where the person asked for it (Platform's copy of
    /// the key): never to print or log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}
