//! Server functions: thin HTTP entry points at stable URLs under `/api/`, each calling one
//! domain function. The browser calls them through the generated client; scripts with
//! `Authorization: Bearer <token>`.

mod account;
mod generate_key;
mod list_keys;

pub use account::*;
pub use generate_key::*;
pub use list_keys::*;
