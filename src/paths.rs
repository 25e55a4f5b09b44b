//! The addresses the page links to and the server answers, in one place.

/// The path of the SSH Keys page.
pub const SSH_KEYS_PATH: &str = "/ssh-keys";

/// Where the profile menu's **Log out** form posts; the server ends the session there.
pub const LOGOUT_PATH: &str = "/logout";
