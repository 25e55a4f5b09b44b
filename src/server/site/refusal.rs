//! Why site mode does not serve a person the proxy named, and the page that tells them.

use crate::server::page::escape;

/// Why a named person is not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The name does not match the user map.
    Unmapped,
    /// No account has the name.
    Unknown(String),
    /// The name is root's.
    Root,
    /// The account (name, uid) is below `min-uid`.
    SystemAccount(String, u32),
    /// The account (name, uid) is the kernel's overflow account.
    Overflow(String, u32),
    /// The account (name, uid) is above `max-uid` (the third).
    AboveMaxUid(String, u32, u32),
    /// The account (first) is not in the allowed group (second).
    OutsideGroup(String, String),
    /// The keys file would lie outside the account's home (the name holds a `/`, or is `.`).
    NoKeysFile(String),
}

/// The audit log's reason for `refusal`, and the page's text.
pub fn refusal_page(refusal: &Refusal) -> (&'static str, String) {
    match refusal {
        Refusal::Unmapped => (
            "name does not match the user map",
            "<h1>Unknown person</h1><p>Your login name does not match any account on this \
             cluster. Ask your administrator.</p>"
                .to_owned(),
        ),
        Refusal::Unknown(user) => (
            "no such account",
            format!(
                "<h1>No account</h1><p>There is no account <b>{}</b> on this cluster. Ask your \
                 administrator.</p>",
                escape(user)
            ),
        ),
        Refusal::Root => (
            "root",
            "<h1>Not for root</h1><p>keyhatch does not manage root's SSH keys.</p>".to_owned(),
        ),
        Refusal::SystemAccount(user, uid) => (
            "system account",
            format!(
                "<h1>Not for system accounts</h1><p><b>{}</b> (uid {uid}) is a system account; \
                 keyhatch manages the keys of people's accounts only.</p>",
                escape(user)
            ),
        ),
        Refusal::Overflow(user, uid) => (
            "the overflow account",
            format!(
                "<h1>Not for this account</h1><p><b>{}</b> (uid {uid}) is the system's \
                 overflow account, which stands for every owner the system cannot map; \
                 keyhatch manages the keys of people's accounts only.</p>",
                escape(user)
            ),
        ),
        Refusal::AboveMaxUid(user, uid, max) => (
            "above max-uid",
            format!(
                "<h1>Not for this account</h1><p><b>{}</b> (uid {uid}) is above the highest \
                 uid this keyhatch serves ({max}). Ask your administrator.</p>",
                escape(user)
            ),
        ),
        Refusal::NoKeysFile(user) => (
            "no keys file below the home",
            format!(
                "<h1>Not for this account</h1><p>keyhatch cannot place the keys of <b>{}</b>: \
                 with that name, authorized-keys-file would lie outside the home. Ask your \
                 administrator.</p>",
                escape(user)
            ),
        ),
        Refusal::OutsideGroup(user, group) => (
            "outside the allowed group",
            format!(
                "<h1>Not allowed</h1><p><b>{}</b> is not in the group <b>{}</b>, whose members \
                 this keyhatch serves. Ask your administrator.</p>",
                escape(user),
                escape(group)
            ),
        ),
    }
}
