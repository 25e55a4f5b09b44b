//! keyhatch at the terminal on the login node (server only): `keyhatch keys …`.

mod keys;
mod list;
mod making;
mod output;
mod passphrase;
mod restrict;
mod rotate;
mod seqera;

pub use keys::run;
