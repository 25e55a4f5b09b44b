//! Server functions: thin HTTP entry points at stable URLs under `/api/`, each calling one
//! domain function. The browser calls them through the generated client; scripts with
//! `Authorization: Bearer <token>`.
//!
//! On the server, [`context`] holds what they share and `convert` every domain → wire
//! conversion.

mod account;
#[cfg(feature = "ssr")]
pub mod context;
#[cfg(feature = "ssr")]
mod convert;
mod fix_permissions;
mod generate_key;
mod list_keys;
mod revoke_key;

pub use account::*;
pub use fix_permissions::*;
pub use generate_key::*;
pub use list_keys::*;
pub use revoke_key::*;
