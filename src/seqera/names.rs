//! What names credentials in Platform.

use serde::{Deserialize, Serialize};

/// A credentials name Platform accepts: letters, digits, `-` and `_`, at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsName(String);

impl CredentialsName {
    /// The longest name.
    pub const MAX_CHARS: usize = 100;

    /// Accepts a name by Platform's rule.
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if s.is_empty() {
            return Err(InvalidName::Empty);
        }
        if s.len() > Self::MAX_CHARS {
            return Err(InvalidName::TooLong(s.chars().count()));
        }
        match s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            Some(c) => Err(InvalidName::Character(c)),
            None => Ok(Self(s.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a credentials name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidName {
    /// Empty.
    #[error("give the credentials a name")]
    Empty,
    /// Longer than Platform allows.
    #[error("a credentials name has at most 100 characters; this one has {0}")]
    TooLong(usize),
    /// A character Platform refuses.
    #[error("a credentials name has only letters, digits, '-' and '_', not {0:?}")]
    Character(char),
}

/// SSH credentials in Platform, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Platform's id.
    pub id: String,
    /// Their name.
    pub name: String,
}

/// A credentials id as Platform makes them (letters and digits): nothing else goes in a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsId(pub(super) String);

impl CredentialsId {
    /// Accepts 1 to 64 ASCII letters, digits, `-` and `_`.
    pub fn parse(s: &str) -> Option<Self> {
        let fits = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        fits.then(|| Self(s.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
