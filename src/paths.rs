//! The addresses the page links to and the server answers, in one place.

/// The path of the SSH Keys page.
pub const SSH_KEYS_PATH: &str = "/ssh-keys";
