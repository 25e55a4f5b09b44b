//! A setting of the domain's that keyhatch refuses to start with, and why.

/// A setting that keyhatch refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSetting {
    /// The tag is not one printable word.
    #[error("tag {0:?} must be one printable word without blanks, not starting with '#'")]
    Tag(String),
    /// The keys file would not be below the home.
    #[error(
        "authorized-keys-file {0:?} must name a file in a directory below the home, like \".ssh/authorized_keys\" or \"%h/.ssh/keys/%u\""
    )]
    KeysFile(String),
    /// The key options would not read as one options field.
    #[error("key options {0:?} must be one authorized_keys options field, like \"restrict,pty\"")]
    KeyOptions(String),
}
