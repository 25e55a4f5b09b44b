//! keyhatch at the terminal on the login node (server only): `keyhatch keys …`, and the
//! site's `keyhatch admin …`.

pub mod admin;
mod keys;
mod list;
mod output;
mod passphrase;
mod restrict;

pub use keys::run;
