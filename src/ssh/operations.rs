//! The domain's changes to a person's file: add a key they brought, revoke one of keyhatch's;
//! and the error either reports.

use super::keygen;
use super::label::Label;
use super::store::{AuthorizedKeys, StoreError};
use super::tag::Tag;
use super::values::KeyOptions;

/// A failure of a domain operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing `authorized_keys` failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key could not be made or encoded.
    #[error(transparent)]
    Keygen(#[from] keygen::KeygenError),
    /// A key could not be changed as asked.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// Why a key cannot be changed as asked (tightened, say), as one sentence for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl From<super::allowed_from::InvalidFrom> for Refused {
    fn from(e: super::allowed_from::InvalidFrom) -> Self {
        Self(e.to_string())
    }
}

/// Authorizes a public key the person brought, commented with `tag` and `label` in place of its
/// own comment and written with `options`, so it is listed and revocable like a generated one.
/// A key already in the file (with any comment or options) is refused.
pub fn add_key(
    store: &AuthorizedKeys,
    key: &ssh_key::PublicKey,
    tag: &Tag,
    label: Option<&Label>,
    options: &KeyOptions,
) -> Result<ssh_key::PublicKey, Error> {
    let key = keygen::with_comment(key, &tag.comment(label));
    store.append_key(&key, &keygen::authorized_line(&key, options)?)?;
    Ok(key)
}

/// Removes the keyhatch key with `fingerprint` (its comment starts with `tag`) from the store's
/// file, keeping every other byte; any other line is read-only.
pub fn revoke_key(store: &AuthorizedKeys, tag: &Tag, fingerprint: &str) -> Result<(), Error> {
    store.remove_key(fingerprint, tag)?;
    Ok(())
}
