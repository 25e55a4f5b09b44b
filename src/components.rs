//! One component per file; each takes small props and keeps its own state.

pub mod copy_button;
pub mod header;
pub mod health_banner;
pub mod key_created_dialog;
pub mod key_list;
pub mod modal;
pub mod new_key_button;
pub mod new_key_dialog;
pub mod profile_menu;
pub mod revoke_dialog;
