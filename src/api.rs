//! Server functions: thin HTTP entry points at stable URLs under `/api/`, each calling one
//! domain function. The browser calls them through the generated client; scripts with
//! `Authorization: Bearer <token>`.
//!
//! On the server, [`context`] holds what they share, `convert` every domain → wire conversion,
//! and [`backend`] where the work runs: in this process (local mode) or in a [`helper`] that has
//! taken the person's uid (site mode).

mod account;
#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(feature = "ssr")]
pub mod context;
#[cfg(feature = "ssr")]
mod convert;
mod fix_permissions;
mod generate_key;
#[cfg(feature = "ssr")]
pub mod helper;
#[cfg(feature = "ssr")]
pub mod limits;
mod list_keys;
mod revoke_key;

pub use account::*;
pub use fix_permissions::*;
pub use generate_key::*;
pub use list_keys::*;
pub use revoke_key::*;
