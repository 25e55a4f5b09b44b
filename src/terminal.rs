//! keyhatch at the terminal on the login node (server only): `keyhatch keys …`, and the
//! site's `keyhatch admin …`.

pub mod admin;
mod keys;
mod list;
mod making;
mod output;
mod passphrase;
mod restrict;
mod rotate;
mod seqera;

pub use keys::run;
