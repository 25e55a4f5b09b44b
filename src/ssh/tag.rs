//! The tag: the comment word that marks keyhatch's keys in `authorized_keys`.

use super::label::Label;
use super::setting::InvalidSetting;

/// The comment word that marks a key as keyhatch's (default `fileglancer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl Tag {
    /// The tag the original tool wrote, so keys made at existing sites are recognised.
    pub const DEFAULT: &'static str = "fileglancer";

    /// Accepts one printable word: no blanks or control characters, not starting with `#`.
    pub fn parse(s: &str) -> Result<Self, InvalidSetting> {
        let ok = !s.is_empty()
            && !s.starts_with('#')
            && s.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidSetting::Tag(s.to_owned()))
        }
    }

    /// The tag as written in the comment field.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comment of a new key: the tag, then the label if there is one.
    pub fn comment(&self, label: Option<&Label>) -> String {
        match label {
            Some(label) => format!("{} {}", self.0, label.as_str()),
            None => self.0.clone(),
        }
    }
}

impl Default for Tag {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}
