//! One page per file.

pub mod not_found;
pub mod ssh_keys;
