//! A person's name for a key ("Seqera production"), kept in its comment after the tag.

use std::fmt;

/// A label: printable text of at most [`Label::MAX_CHARS`] characters, blanks at either end
/// trimmed.
#[derive(Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    /// The longest label, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Accepts printable text; an empty or all-blank label means none and gives `None`.
    pub fn parse(s: &str) -> Result<Option<Self>, InvalidLabel> {
        let s = s.trim_matches(|c| c == ' ');
        if s.is_empty() {
            return Ok(None);
        }
        if let Some(c) = s.chars().find(|&c| !is_printable(c)) {
            return Err(InvalidLabel::NotPrintable(c));
        }
        match s.chars().count() {
            n if n > Self::MAX_CHARS => Err(InvalidLabel::TooLong(n)),
            _ => Ok(Some(Self(s.to_owned()))),
        }
    }

    /// The label as written in the comment.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Control characters (tabs and line breaks among them) would split or hide the line in the
/// file; the invisible marks that reorder text would make one label look like another.
fn is_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Why a label was refused; the message is written for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidLabel {
    /// Longer than [`Label::MAX_CHARS`].
    #[error("a label has at most 64 characters; this one has {0}")]
    TooLong(usize),
    /// Holds a control character or an invisible formatting mark.
    #[error(
        "a label must be printable text on one line: no tabs, line breaks or invisible characters (found U+{:04X})",
        u32::from(*.0)
    )]
    NotPrintable(char),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_trimmed_and_blank_means_none() {
        let label = Label::parse("  Seqera production ").unwrap().unwrap();
        assert_eq!(label.as_str(), "Seqera production");
        assert_eq!(Label::parse("").unwrap(), None);
        assert_eq!(Label::parse("   ").unwrap(), None);
    }

    #[test]
    fn a_label_may_be_any_printable_text() {
        for good in ["Seqera prod #2", "Zürich — 研究", "a\"quoted\" label", "x"] {
            assert!(Label::parse(good).unwrap().is_some(), "{good:?} refused");
        }
    }

    #[test]
    fn control_characters_and_invisible_marks_are_refused() {
        for bad in [
            "tab\there",
            "new\nline",
            "cr\r",
            "nul\0",
            "bell\x07",
            "rtl\u{202e}gnp.exe",
            "zero\u{200b}width",
        ] {
            assert!(
                matches!(Label::parse(bad), Err(InvalidLabel::NotPrintable(_))),
                "{bad:?} accepted"
            );
        }
        let message = Label::parse("a\tb").unwrap_err().to_string();
        assert!(message.contains("U+0009"), "{message}");
    }

    #[test]
    fn a_label_has_at_most_64_characters_counted_not_bytes() {
        assert!(Label::parse(&"é".repeat(64)).unwrap().is_some());
        assert_eq!(
            Label::parse(&"a".repeat(65)),
            Err(InvalidLabel::TooLong(65))
        );
    }
}
