//! The page's forms, for browsers without JavaScript (server only): what a form posted to
//! `/ssh-keys`, and doing it through the same server functions the page's code calls.

use serde::Deserialize;

use crate::error::AppError;
use crate::model::{GeneratedKey, KeyInfo, Secret};

pub use super::sent_forms::new_form_id;

/// Whether a query (its `name=value` pairs) asks the page for a dialog: `?dialog=generate` or
/// `add`, `?revoke=`, `?restrict=` or `?replace=` and a key's fingerprint.
pub fn asks_for_a_dialog(pairs: &[(String, String)]) -> bool {
    let names = ["dialog", "revoke", "restrict", "replace"];
    pairs.iter().any(|(name, _)| names.contains(&name.as_str()))
}

/// Whether a page asked for with `headers` may open the dialog its query asks for: when the
/// browser says where the request comes from (`Sec-Fetch-Site`), from keyhatch's own page or
/// the person (an address typed, a bookmark); when it does not (a plain-HTTP origin beyond
/// loopback: red team), only from keyhatch's own page, by its `Referer`.
pub fn may_open_a_dialog(headers: &axum::http::HeaderMap) -> bool {
    use axum::http::header::{HOST, REFERER};
    if let Some(site) = headers.get("sec-fetch-site") {
        return !from_another_site(Some(site.as_bytes()));
    }
    let (Some(referer), Some(host)) = (headers.get(REFERER), headers.get(HOST)) else {
        return false;
    };
    let authority = referer
        .to_str()
        .ok()
        .and_then(|r| r.split_once("://"))
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default());
    authority.is_some_and(|a| host.to_str().is_ok_and(|h| a.eq_ignore_ascii_case(h)))
}

/// Whether a request comes from another site, as the browser's `Sec-Fetch-Site` header
/// (`fetch_site`) says: neither keyhatch's own page (`same-origin`) nor the person (`none`: an
/// address typed, a bookmark). A browser that sends no such header says nothing.
pub fn from_another_site(fetch_site: Option<&[u8]>) -> bool {
    fetch_site.is_some_and(|site| site != b"same-origin" && site != b"none")
}

/// What a posted form asks for, from its hidden `intent` field; any other value, or none, is
/// refused as the form is read (400), before anything is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Make a key (the New Key dialog).
    Generate,
    /// Check, then authorize, a public key the person brought (the Add Key dialog).
    Add,
    /// Remove one of keyhatch's keys (the Revoke dialog).
    Revoke,
    /// Tighten one of keyhatch's keys (the Restrict dialog).
    Restrict,
}

/// A form posted to the page, as `application/x-www-form-urlencoded`.
#[derive(Clone, Debug, Deserialize)]
pub struct Posted {
    /// What the form asks for.
    pub intent: Intent,
    /// Generate: the form's one-time id (`sent_forms`), so a resent form makes no second key.
    #[serde(default)]
    pub form_id: String,
    /// Generate: the passphrase, and the same typed again.
    #[serde(default)]
    pub passphrase: Secret,
    /// Generate: the passphrase typed again.
    #[serde(default)]
    pub passphrase_confirm: Secret,
    /// Generate and add: the label.
    #[serde(default)]
    pub label: String,
    /// Generate and add: the lifetime in days; empty for none.
    #[serde(default)]
    pub expires_in_days: String,
    /// Add: the public key.
    #[serde(default)]
    pub public_key: String,
    /// Add: the fingerprint the person was shown and confirms.
    #[serde(default)]
    pub checked: String,
    /// Revoke and restrict: the key.
    #[serde(default)]
    pub fingerprint: String,
    /// Generate, add and restrict: where the key may log in from (a list's name, or
    /// patterns); empty or `anywhere` for anywhere.
    #[serde(default)]
    pub allowed_from: String,
    /// Generate, add and restrict: the patterns typed, when `allowed_from` is `custom`.
    #[serde(default)]
    pub allowed_from_custom: String,
    /// Restrict: the key's new last day, `YYYY-MM-DD`; empty for unchanged.
    #[serde(default)]
    pub expires_on: String,
    /// Generate (the Replace dialog): the key the new one replaces; empty for a new key.
    #[serde(default)]
    pub replaces: String,
}

impl Posted {
    /// The lifetime asked for: `None` for none, an error for one that is not a number.
    pub fn lifetime(&self) -> Result<Option<u32>, AppError> {
        match self.expires_in_days.trim() {
            "" => Ok(None),
            days => days
                .parse()
                .map(Some)
                .map_err(|_| AppError::Invalid(format!("{days:?} is not a number of days"))),
        }
    }

    /// Where the key may log in from, as the server functions take it: the typed patterns
    /// when the choice is `custom`, else the choice.
    pub fn allowed_from(&self) -> Option<String> {
        let chosen = match self.allowed_from.as_str() {
            "custom" => self.allowed_from_custom.as_str(),
            choice => choice,
        };
        (!chosen.trim().is_empty()).then(|| chosen.to_owned())
    }

    /// The label to pass on: `None` when blank.
    fn label(&self) -> Option<String> {
        (!self.label.trim().is_empty()).then(|| self.label.clone())
    }
}

/// What became of a posted form.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A key was made: its private half is shown once, in this answer.
    Generated(GeneratedKey),
    /// Generating failed.
    GenerateFailed(AppError),
    /// The pasted key reads as this key: shown for the person to confirm.
    AddChecked(KeyInfo),
    /// The key was added.
    Added(KeyInfo),
    /// Adding failed, or the key cannot be added.
    AddFailed(AppError),
    /// The key with this fingerprint was revoked.
    Revoked(String),
    /// Revoking failed.
    RevokeFailed(AppError),
    /// The key was tightened; as the list now shows it.
    Restricted(KeyInfo),
    /// Tightening failed.
    RestrictFailed(AppError),
}

/// A posted form and what became of it: done before the page is rendered, which shows it.
#[derive(Clone, Debug)]
pub struct Answered {
    /// The form, without its passphrases (they were used and are dropped).
    pub posted: Posted,
    /// What became of it.
    pub outcome: Outcome,
}

/// Does what `posted` asks, and pairs the form (its passphrases dropped once used) with the
/// outcome.
pub async fn answer(posted: Posted) -> Answered {
    let outcome = act_on(&posted).await;
    let posted = Posted {
        passphrase: Secret::default(),
        passphrase_confirm: Secret::default(),
        ..posted
    };
    Answered { posted, outcome }
}

/// Does what `posted` asks, through the server functions (which check, audit and set the
/// answer's status as for the page's code).
async fn act_on(posted: &Posted) -> Outcome {
    match posted.intent {
        Intent::Generate => {
            let (typed, again) = (
                posted.passphrase.clone().expose(),
                posted.passphrase_confirm.clone().expose(),
            );
            if typed != again {
                return Outcome::GenerateFailed(refuse(AppError::Invalid(
                    "the passphrases do not match: type the same one twice".into(),
                )));
            }
            let lifetime = match posted.lifetime() {
                Ok(lifetime) => lifetime,
                Err(e) => return Outcome::GenerateFailed(refuse(e)),
            };
            let passphrase = (!typed.is_empty()).then(|| Secret::new(typed));
            let state = match super::context::app_state() {
                Ok(state) => state,
                Err(e) => return Outcome::GenerateFailed(e),
            };
            let person = match super::context::current_person() {
                Ok(person) => person,
                Err(e) => return Outcome::GenerateFailed(e),
            };
            let (sent, user, id) = (&state.sent_forms, &person.account.user, &posted.form_id);
            if let Err(e) = sent.claim(user, id) {
                return Outcome::GenerateFailed(refuse(e));
            }
            let replaces = Some(posted.replaces.clone()).filter(|r| !r.is_empty());
            let (label, from) = match replaces {
                // The Replace dialog has neither: the old key's are kept.
                Some(_) => (None, None),
                None => (posted.label(), posted.allowed_from()),
            };
            match super::generate_key(passphrase, label, lifetime, from, replaces).await {
                Ok(key) => {
                    sent.made(user, id, &key.info.fingerprint);
                    Outcome::Generated(key)
                }
                Err(e) => {
                    sent.failed(user, id);
                    Outcome::GenerateFailed(e)
                }
            }
        }
        Intent::Add => {
            let lifetime = match posted.lifetime() {
                Ok(lifetime) => lifetime,
                Err(e) => return Outcome::AddFailed(refuse(e)),
            };
            let inspected = match super::inspect_key(posted.public_key.clone()).await {
                Ok(key) => key,
                Err(e) => return Outcome::AddFailed(e),
            };
            // Added only once the person has seen this very key's fingerprint.
            if posted.checked != inspected.fingerprint {
                return Outcome::AddChecked(inspected);
            }
            let label = posted.label();
            let (key, from) = (posted.public_key.clone(), posted.allowed_from());
            match super::add_key(key, label, lifetime, from).await {
                Ok(key) => Outcome::Added(key),
                Err(e) => Outcome::AddFailed(e),
            }
        }
        Intent::Revoke => match super::revoke_key(posted.fingerprint.clone()).await {
            Ok(()) => Outcome::Revoked(posted.fingerprint.clone()),
            Err(e) => Outcome::RevokeFailed(e),
        },
        Intent::Restrict => {
            let expires = Some(posted.expires_on.clone()).filter(|d| !d.trim().is_empty());
            let (key, from) = (posted.fingerprint.clone(), posted.allowed_from());
            match super::restrict_key(key, from, expires).await {
                Ok(key) => Outcome::Restricted(key),
                Err(e) => Outcome::RestrictFailed(e),
            }
        }
    }
}

fn refuse(error: AppError) -> AppError {
    super::context::answer_with_status(error)
}
