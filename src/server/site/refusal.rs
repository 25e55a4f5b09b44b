//! Why site mode does not serve a person the proxy named, and the page that tells them.

use axum::http::StatusCode;

use crate::server::plain::Part::{Bold, Text};
use crate::server::plain::{Part, PlainPage};

/// Why a named person is not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The name does not match the user map.
    Unmapped,
    /// No account has the name.
    Unknown(String),
    /// The user database gave an account spelled otherwise (first: as asked; second: the
    /// account's own spelling).
    Spelled(String, String),
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

/// The audit log's reason for `refusal`, and the page that tells the person.
pub fn refusal_page(refusal: &Refusal) -> (&'static str, PlainPage) {
    let page = |heading: &str, parts: &[Part<'_>]| {
        PlainPage::new(StatusCode::FORBIDDEN, "Not served", heading).para(parts)
    };
    let ask = " Ask your administrator.";
    match refusal {
        Refusal::Unmapped => (
            "name does not match the user map",
            page(
                "Unknown person",
                &[
                    Text("Your login name does not match any account on this cluster."),
                    Text(ask),
                ],
            ),
        ),
        Refusal::Unknown(user) => (
            "no such account",
            page(
                "No account",
                &[
                    Text("There is no account "),
                    Bold(user),
                    Text(" on this cluster."),
                    Text(ask),
                ],
            ),
        ),
        Refusal::Spelled(asked, account) => (
            "name spelled otherwise than its account",
            page(
                "No account",
                &[
                    Text("Your sign-in names you "),
                    Bold(asked),
                    Text(", and the account this cluster found for it is spelled "),
                    Bold(account),
                    Text(": keyhatch serves an account only by its own spelling."),
                    Text(ask),
                ],
            ),
        ),
        Refusal::Root => (
            "root",
            page(
                "Not for root",
                &[Text("keyhatch does not manage root's SSH keys.")],
            ),
        ),
        Refusal::SystemAccount(user, uid) => (
            "system account",
            page(
                "Not for system accounts",
                &[
                    Bold(user),
                    Text(&format!(
                        " (uid {uid}) is a system account; keyhatch manages the keys of \
                         people's accounts only."
                    )),
                ],
            ),
        ),
        Refusal::Overflow(user, uid) => (
            "the overflow account",
            page(
                "Not for this account",
                &[
                    Bold(user),
                    Text(&format!(
                        " (uid {uid}) is the system's overflow account, which stands for every \
                         owner the system cannot map; keyhatch manages the keys of people's \
                         accounts only."
                    )),
                ],
            ),
        ),
        Refusal::AboveMaxUid(user, uid, max) => (
            "above max-uid",
            page(
                "Not for this account",
                &[
                    Bold(user),
                    Text(&format!(
                        " (uid {uid}) is above the highest uid this keyhatch serves ({max})."
                    )),
                    Text(ask),
                ],
            ),
        ),
        Refusal::NoKeysFile(user) => (
            "no keys file below the home",
            page(
                "Not for this account",
                &[
                    Text("keyhatch cannot place the keys of "),
                    Bold(user),
                    Text(": with that name, authorized-keys-file would lie outside the home."),
                    Text(ask),
                ],
            ),
        ),
        Refusal::OutsideGroup(user, group) => (
            "outside the allowed group",
            page(
                "Not allowed",
                &[
                    Bold(user),
                    Text(" is not in the group "),
                    Bold(group),
                    Text(", whose members this keyhatch serves."),
                    Text(ask),
                ],
            ),
        ),
    }
}
