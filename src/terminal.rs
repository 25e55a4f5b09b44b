//! keyhatch at the terminal on the login node (server only): `keyhatch keys …`.

mod keys;
mod output;
mod passphrase;

pub use keys::run;
