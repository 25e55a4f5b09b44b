//! One component per file; each takes small props and keeps its own state.

pub mod add_key_dialog;
pub mod allowed_from_fields;
pub mod copy_button;
pub mod copy_public_key;
pub mod dialog_button;
pub mod dialogs;
pub mod expiry_badge;
pub mod from_badge;
pub mod header;
pub mod health_banner;
pub mod key_created_dialog;
pub mod key_list;
pub mod key_settings;
pub mod last_used_note;
pub mod lifetime_select;
pub mod modal;
pub mod new_key_dialog;
pub mod other_keys;
pub mod passphrase_fields;
pub mod profile_menu;
pub mod replace_key_dialog;
pub mod replaced_key_note;
pub mod restrict_dialog;
pub mod revoke_dialog;
pub mod seqera_credentials_choice;
pub mod seqera_handoff;
