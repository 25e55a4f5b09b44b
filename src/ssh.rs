//! The SSH domain: key generation, `authorized_keys` parsing and the file store.
//!
//! Nothing here knows about Leptos, axum or the process environment: every operation takes the
//! account's file explicitly (an [`AuthorizedKeys`] made from a home directory), so the same
//! calls serve a local user, a test's temporary home, or a per-account helper process. Nothing
//! here reads the environment either: test hooks such as crash points are passed in.
#![deny(missing_docs)]

pub mod allowed_from;
pub mod authorized_keys;
pub mod encrypted;
pub mod expiry;
mod fingerprint;
pub mod health;
pub mod import;
pub mod kdf;
pub mod keygen;
pub mod label;
mod listing;
pub mod offboard;
mod operations;
mod options;
pub mod restrict;
pub mod rotate;
mod setting;
pub mod store;
mod tag;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
pub mod usage;
mod values;

pub use allowed_from::{AllowedFrom, InvalidFrom, NamedFrom};
pub use expiry::{Date, Expiry, Lifetime};
pub use fingerprint::fingerprint;
pub use import::{ImportError, parse_public_key};
pub use keygen::NewKey;
pub use label::{InvalidLabel, Label};
pub use listing::{ListedKey, Listing, OtherKeys, list_keys, other_keys};
pub use operations::{Error, add_key, revoke_key};
pub use setting::InvalidSetting;
pub use store::{AuthorizedKeys, StoreError};
pub use tag::Tag;
pub use values::{KeyOptions, KeysFile, Passphrase};
