//! The Generate form's one-time ids (server only). A form posted without JavaScript can arrive
//! twice: the person reloads the page that shows their new key (the browser offers to send the
//! form again), or the browser resends it by itself when a connection closes before the answer.
//! Each time would make one more key, and only the last one's private half would be seen.
//!
//! So each Generate form the server renders carries a random id, and a key is made only for an
//! id not sent before. The ids are remembered in memory, per person, for a day.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::AppError;

/// How long a sent form is remembered: longer than any page is left open before a reload.
const REMEMBERED: Duration = Duration::from_secs(24 * 60 * 60);

/// The most forms remembered per person; the oldest is forgotten first. Far more than anyone
/// generates in a day (site mode limits keys per hour), so only a flood forgets early, and only
/// its sender's own forms.
const PER_PERSON: usize = 64;

/// Hex digits in a form id: 128 random bits.
const ID_LEN: usize = 32;

/// A new form id: 128 bits from the operating system, as hex.
pub fn new_form_id() -> String {
    crate::random::random_hex::<{ ID_LEN / 2 }>()
}

/// One form that was sent.
#[derive(Debug)]
struct Sent {
    id: String,
    at: Instant,
    /// The key it made; `None` while it is being made, or if the request went away before.
    key: Option<String>,
}

/// The Generate forms each person has sent.
#[derive(Debug, Clone, Default)]
pub struct SentForms {
    sent: Arc<Mutex<HashMap<String, VecDeque<Sent>>>>,
}

impl SentForms {
    /// Records that `user` sent the form `id`, before its key is made; refuses, with a sentence
    /// naming the key it made, a form sent before, and one with no id or a malformed one.
    pub fn claim(&self, user: &str, id: &str) -> Result<(), AppError> {
        if id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::Invalid(
                "this form is from an older page: nothing was changed. Press Generate Key again"
                    .into(),
            ));
        }
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        // People with no form in the last day are forgotten, so the map stays small.
        sent.retain(|_, forms| {
            forms.retain(|f| now.duration_since(f.at) < REMEMBERED);
            !forms.is_empty()
        });
        let forms = sent.entry(user.to_owned()).or_default();
        if let Some(earlier) = forms.iter().find(|f| f.id == id) {
            let made = match &earlier.key {
                Some(fingerprint) => format!("it made the key {fingerprint}, listed on this page"),
                None => "its key is listed on this page if it was made".to_owned(),
            };
            return Err(AppError::Conflict(format!(
                "this form was sent already: {made}. A private key is shown only once, so \
                 nothing was changed. Press Generate Key again for another key"
            )));
        }
        if forms.len() == PER_PERSON {
            forms.pop_front();
        }
        forms.push_back(Sent {
            id: id.to_owned(),
            at: now,
            key: None,
        });
        Ok(())
    }

    /// Records the key the form `id` made.
    pub fn made(&self, user: &str, id: &str, fingerprint: &str) {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(form) = sent
            .get_mut(user)
            .and_then(|forms| forms.iter_mut().find(|f| f.id == id))
        {
            form.key = Some(fingerprint.to_owned());
        }
    }

    /// Forgets the form `id`, which made no key: sending it again may try again.
    pub fn failed(&self, user: &str, id: &str) {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(forms) = sent.get_mut(user) {
            forms.retain(|f| f.id != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_makes_one_key_and_a_resent_one_names_it() {
        let forms = SentForms::default();
        let id = new_form_id();
        forms.claim("alice", &id).unwrap();
        forms.made("alice", &id, "SHA256:abc");
        let again = forms.claim("alice", &id).unwrap_err();
        assert_eq!(again.status(), 409);
        assert!(
            again.to_string().contains("made the key SHA256:abc"),
            "{again}"
        );
        // Another person's form with the same id is theirs (ids are random: only a person
        // replaying their own form can repeat one).
        forms.claim("bob", &id).unwrap();
        // A new form is a new key.
        forms.claim("alice", &new_form_id()).unwrap();
    }

    #[test]
    fn a_form_still_being_answered_is_refused_too() {
        let forms = SentForms::default();
        let id = new_form_id();
        forms.claim("alice", &id).unwrap();
        let again = forms.claim("alice", &id).unwrap_err();
        assert!(again.to_string().contains("if it was made"), "{again}");
    }

    #[test]
    fn a_form_that_made_no_key_may_be_sent_again() {
        let forms = SentForms::default();
        let id = new_form_id();
        forms.claim("alice", &id).unwrap();
        forms.failed("alice", &id);
        forms.claim("alice", &id).unwrap();
    }

    #[test]
    fn a_form_without_a_proper_id_is_refused() {
        let forms = SentForms::default();
        for id in [
            "",
            "abc",
            &"g".repeat(ID_LEN),
            &format!("{}0", new_form_id()),
        ] {
            let err = forms.claim("alice", id).unwrap_err();
            assert_eq!(err.status(), 400, "{id:?}");
        }
    }

    #[test]
    fn ids_are_new_each_time_and_well_formed() {
        let (a, b) = (new_form_id(), new_form_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), ID_LEN);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn a_flood_forgets_only_its_senders_oldest_forms() {
        let forms = SentForms::default();
        let bobs = new_form_id();
        forms.claim("bob", &bobs).unwrap();
        let first = new_form_id();
        forms.claim("alice", &first).unwrap();
        for _ in 0..PER_PERSON {
            forms.claim("alice", &new_form_id()).unwrap();
        }
        forms.claim("alice", &first).unwrap();
        assert_eq!(forms.claim("bob", &bobs).unwrap_err().status(), 409);
    }
}
