//! Why Platform did not do what was asked.

/// Why Platform did not do it; each message is written for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// 401: the token is wrong, expired or revoked.
    #[error(
        "Seqera Platform did not accept the access token: check it, or make a new one under Your tokens"
    )]
    BadToken,
    /// 403: the token may not do this here.
    #[error(
        "Seqera Platform refused: your token may not add or change credentials in that workspace. Pick another workspace, or ask its owner for a role that may"
    )]
    NotAllowed,
    /// The name is taken in that workspace.
    #[error("Seqera Platform already has credentials named {0:?} there: choose another name")]
    NameTaken(String),
    /// The credentials to update are not there (deleted meanwhile, or in another workspace).
    #[error(
        "Seqera Platform has no credentials {0} there (deleted meanwhile?); nothing was changed"
    )]
    NoSuchCredentials(String),
    /// An update was sent, but whether Platform made it is not known.
    #[error(
        "keyhatch does not know whether Seqera Platform took the new key ({0}): look at the credentials in Platform before you revoke the old key"
    )]
    Unconfirmed(String),
    /// Platform refused the request with words of its own, which are not repeated: they may
    /// quote what was sent (red team: a key echoed in pieces, a passphrase upper-cased, reached
    /// the audit log whole).
    #[error(
        "Seqera Platform refused the request (HTTP {0}); its reason is not repeated here, as it may quote the key or the token. Check the key and the name, or ask Platform's administrators"
    )]
    Refused(u16),
    /// No answer in time.
    #[error("Seqera Platform did not answer within {0} seconds; nothing was added. Try again")]
    Timeout(u64),
    /// No connection, DNS, TLS…
    #[error("keyhatch could not reach Seqera Platform at {url}: {why}")]
    Unreachable {
        /// Where.
        url: String,
        /// What the network said.
        why: String,
    },
    /// An answer keyhatch cannot read (a redirect among them: keyhatch follows none).
    #[error("Seqera Platform gave an unexpected answer (HTTP {status}); nothing was added")]
    Unexpected {
        /// The HTTP status.
        status: u16,
    },
}

impl PlatformError {
    /// The answer's kind, as the metrics count it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadToken => "bad token",
            Self::NotAllowed => "not allowed",
            Self::NameTaken(_) => "name taken",
            Self::NoSuchCredentials(_) => "no such credentials",
            Self::Unconfirmed(_) => "unconfirmed",
            Self::Refused(_) => "refused",
            Self::Timeout(_) => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::Unexpected { .. } => "unexpected",
        }
    }
}

/// The most characters of Platform's (or the network's) own words kept in a message.
const MAX_WORDS: usize = 300;

/// Text from outside (Platform's message, a network error) as one short line of visible
/// characters: cut to [`MAX_WORDS`], and anything a terminal or a page would not show as
/// itself (a control, a bidirectional override, an invisible character) written `\u{…}`.
pub(super) fn visible(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_WORDS {
            out.push('…');
            break;
        }
        if crate::ssh::label::is_printable(c) {
            out.push(c);
        } else {
            out.push_str(&c.escape_unicode().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn platforms_words_are_cut_and_what_would_not_show_is_escaped() {
        let hostile = format!("Bad \u{1b}[31mthing\u{202e} {}", "A".repeat(5000));
        let shown = visible(&hostile);
        assert!(
            shown.starts_with("Bad \\u{1b}[31mthing\\u{202e} AAA"),
            "{shown}"
        );
        assert!(!shown.contains(['\u{1b}', '\u{202e}']));
        assert_eq!(
            shown.chars().count(),
            300 + "\\u{1b}\\u{202e}".len() - 2 + 1
        );
    }
}
