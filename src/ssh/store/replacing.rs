//! The key a new one replaces, as the append finds it under the lock.

use super::error::StoreError;
use crate::ssh::authorized_keys::KeyLine;
use crate::ssh::tag::Tag;

/// Keyhatch's key that a new one replaces, as it was read before the new key was made: the
/// append goes ahead only while the file still holds it, as keyhatch's, with these options.
#[derive(Debug, Clone, Copy)]
pub struct Replacing<'a> {
    /// Its `SHA256:` fingerprint.
    pub fingerprint: &'a str,
    /// The tag that marks keyhatch's keys.
    pub tag: &'a Tag,
    /// Its options field as read, from which the new key's were made.
    pub options: &'a [u8],
}

impl Replacing<'_> {
    /// Refuses the append unless `lines` (those holding the key) are there, all keyhatch's,
    /// and unchanged: a key tightened meanwhile would otherwise be replaced by a looser one.
    pub(super) fn check<'l>(
        &self,
        lines: impl Iterator<Item = &'l KeyLine<'l>>,
    ) -> Result<(), StoreError> {
        let mut found = false;
        for line in lines {
            found = true;
            if !line.is_tagged(self.tag) {
                return Err(StoreError::NotOurs(self.fingerprint.to_owned()));
            }
            if line.options != self.options {
                return Err(StoreError::ChangedMeanwhile(self.fingerprint.to_owned()));
            }
        }
        if found {
            Ok(())
        } else {
            Err(StoreError::KeyNotFound(self.fingerprint.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests;
