//! Server functions: thin HTTP entry points at stable URLs under `/api/`, each calling one
//! domain function. The browser calls them through the generated client; scripts with
//! `Authorization: Bearer <token>`.
//!
//! On the server, [`context`] holds what they share, [`changes`] how each change is counted,
//! audited and seen to its end, [`convert`] every domain → wire conversion,
//! and [`person`] whom each request is for and where their work runs: in this process (local
//! mode) or in a [`helper`] that has taken the person's uid (site mode), each running the
//! operations of [`op`].
#![deny(missing_docs)]

mod account;
mod add_key;
#[cfg(feature = "ssr")]
pub mod changes;
#[cfg(feature = "ssr")]
pub mod context;
#[cfg(feature = "ssr")]
pub mod convert;
mod fix_permissions;
#[cfg(feature = "ssr")]
pub mod form;
mod generate_key;
#[cfg(feature = "ssr")]
pub mod helper;
mod inspect_key;
#[cfg(feature = "ssr")]
pub mod limits;
mod list_keys;
#[cfg(feature = "ssr")]
pub mod op;
mod other_keys;
#[cfg(feature = "ssr")]
pub mod person;
mod restrict_key;
mod revoke_key;
#[cfg(feature = "ssr")]
pub mod sent_forms;
mod seqera_account;
mod seqera_credentials;
mod seqera_update;
#[cfg(feature = "ssr")]
pub mod slow_pool;
#[cfg(feature = "ssr")]
pub mod underway;

pub use account::*;
pub use add_key::*;
pub use fix_permissions::*;
pub use generate_key::*;
pub use inspect_key::*;
pub use list_keys::*;
pub use other_keys::*;
pub use restrict_key::*;
pub use revoke_key::*;
pub use seqera_account::*;
pub use seqera_credentials::*;
pub use seqera_update::*;
