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
    /// Platform refused the request with its own message.
    #[error("Seqera Platform refused the request: {0}")]
    Refused(String),
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
