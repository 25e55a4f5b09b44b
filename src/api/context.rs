//! What server functions share (server only): the state of the request, running blocking domain
//! work, and turning its errors into HTTP answers.

#![deny(missing_docs)]

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnErrorErr;
use leptos_axum::ResponseOptions;

use super::person::Person;
use super::sent_forms::SentForms;
use super::slow_pool::SlowPool;
use super::underway::Underway;
use crate::audit::{Audit, Event};
use crate::error::AppError;
use crate::seqera::Platform;
use crate::ssh::{KeyOptions, NamedFrom};

/// What server functions share whoever the request is for, provided to them as Leptos
/// context; who it is for is the request's [`Person`].
#[derive(Debug, Clone)]
pub struct AppState {
    /// The options written before each new key.
    pub key_options: KeyOptions,
    /// The lists people may choose under "Allow logins only from".
    pub from_lists: Vec<NamedFrom>,
    /// sshd's log as read so far, when the settings name one.
    pub usage: Option<crate::sshd_log::Reading>,
    /// Where changes are recorded.
    pub audit: Audit,
    /// Seqera Platform, when the site set `seqera-url`.
    pub seqera: Option<Platform>,
    /// Where passphrase keys are derived: low-priority threads of their own.
    pub key_derivation: SlowPool,
    /// The Generate forms sent without JavaScript, so a resent one makes no second key.
    pub sent_forms: SentForms,
    /// The changes under way, which a stop waits for.
    pub underway: Underway,
}

impl AppState {
    /// The site's Seqera Platform, or 404 when it set none.
    pub fn seqera(&self) -> Result<Platform, AppError> {
        self.seqera.clone().ok_or_else(|| {
            answer_with_status(AppError::NotFound(
                "this keyhatch has no Seqera Platform: its administrator sets seqera-url".into(),
            ))
        })
    }
}

/// The person the request being served is for, or 401 when nobody is logged in.
pub fn current_person() -> Result<Person, AppError> {
    use_context::<Person>()
        .ok_or(AppError::Unauthorized)
        .map_err(answer_with_status)
}

/// The person the request being served is for, for one more operation of theirs: 401 when
/// nobody is logged in, 429 when they have as many under way as their limits allow. The
/// operation lasts as long as the returned person (and its clones, and its keys').
pub fn person() -> Result<Person, AppError> {
    current_person()?.entered().map_err(answer_with_status)
}

/// The site's Seqera Platform, for `calls` more calls by `person` (`action` in the audit log):
/// 404 without one, 429, with none counted, when they would have had more calls this hour
/// than their limits allow.
pub fn platform_for(
    state: &AppState,
    person: &Person,
    action: &'static str,
    calls: usize,
) -> Result<Platform, AppError> {
    let platform = state.seqera()?;
    if let Err(refused) = person.limits.count_platform_calls(person.uid, calls) {
        return audited(
            state,
            person,
            action,
            None,
            Err(answer_with_status(refused)),
        );
    }
    Ok(platform)
}

/// The client's address as the server saw it (`127.0.0.1:40312`, or `unix`), put in each
/// request's extensions by the server for the audit log.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl ClientAddr {
    /// The address of the request being served, or `unknown`.
    pub(super) fn current() -> Self {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Self>().cloned())
            .unwrap_or_else(|| Self("unknown".to_owned()))
    }
}

/// Records `action` by `person` (on the key `fingerprint`, when there is one) with the outcome
/// of `result` in the audit log, and passes `result` on.
pub fn audited<T>(
    state: &AppState,
    person: &Person,
    action: &'static str,
    fingerprint: Option<&str>,
    result: Result<T, AppError>,
) -> Result<T, AppError> {
    record(
        &state.audit,
        &person.account.user,
        &ClientAddr::current(),
        action,
        fingerprint,
        &result,
    );
    result
}

/// Writes the audit line of `action` by `account` from `remote`, with the outcome of `result`.
pub(super) fn record<T>(
    audit: &Audit,
    account: &str,
    remote: &ClientAddr,
    action: &'static str,
    fingerprint: Option<&str>,
    result: &Result<T, AppError>,
) {
    crate::metrics::operation(
        action,
        result.as_ref().map_or_else(AppError::kind, |_| "ok"),
    );
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let event = Event {
        action,
        account,
        remote: &remote.0,
        fingerprint,
        outcome: &outcome,
    };
    // A request refused as it stood, having changed nothing (a limit, a key not there, bad
    // input): throttled, or one person could fill the disk with them (red team: 429s, then
    // 404s). A failure or a conflict the person can repeat as fast (a lease on their own file,
    // their own helper killed, a key added again: 9,000 409s in 10 s, red team) is throttled
    // alike, each kind apart (not each message: a person chooses words in some). A change done
    // is always written.
    match result {
        Ok(_) => audit.record(&event),
        Err(
            AppError::TooMany(_)
            | AppError::NotFound(_)
            | AppError::Forbidden(_)
            | AppError::Invalid(_)
            | AppError::Unauthorized,
        ) => audit.record_refusal(&event),
        Err(e) => audit.record_failure(&event, e.kind()),
    }
}

/// Returns the state of the request being served; outside one, an error answered with 500.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        answer_with_status(AppError::Request(ServerFnErrorErr::ServerError(
            "server state is missing".into(),
        )))
    })
}

/// Runs blocking work (file I/O, bcrypt, a helper) off the async threads; an error sets the
/// response's HTTP status.
pub async fn run_blocking<T, F>(work: F) -> Result<T, AppError>
where
    F: FnOnce() -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let result = match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(AppError::Request(ServerFnErrorErr::ServerError(
            e.to_string(),
        ))),
    };
    result.map_err(answer_with_status)
}

/// Sets the response's HTTP status from `error`, so scripts see 4xx/5xx, and returns the error.
pub fn answer_with_status(error: AppError) -> AppError {
    if let Some(response) = use_context::<ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    error
}

/// The label and the options (with the lifetime's `expiry-time`) of a key about to be written,
/// from what the person sent; a clear 400 for either out of bounds.
pub fn new_key_settings(
    state: &AppState,
    label: Option<String>,
    expires_in_days: Option<u32>,
    allowed_from: Option<&str>,
) -> Result<(Option<crate::ssh::Label>, KeyOptions), AppError> {
    let site = (&state.key_options, &state.from_lists[..]);
    key_settings(site, label, expires_in_days, allowed_from).map_err(answer_with_status)
}

/// The label of a key the person brought: the one they gave, or else the key's own comment
/// where that is a label keyhatch would take (`me@laptop`).
pub fn brought_label(label: Option<String>, key: &ssh_key::PublicKey) -> Option<String> {
    label.or_else(|| {
        crate::ssh::Label::parse(key.comment())
            .ok()
            .flatten()
            .map(|l| l.as_str().to_owned())
    })
}

/// The label and the options (the site's `key_options` with the lifetime's `expiry-time`
/// and a `from=` for `allowed_from`, one of the site's lists or the person's own patterns) of
/// a key about to be written, from what the person gave (the page, the API or the terminal).
pub fn key_settings(
    (key_options, from_lists): (&KeyOptions, &[NamedFrom]),
    label: Option<String>,
    expires_in_days: Option<u32>,
    allowed_from: Option<&str>,
) -> Result<(Option<crate::ssh::Label>, KeyOptions), AppError> {
    use crate::ssh::{Date, Label, Lifetime, allowed_from::chosen};

    let label = Label::parse(label.as_deref().unwrap_or_default())?;
    let mut options = match chosen(allowed_from.unwrap_or_default(), from_lists)? {
        Some(from) => key_options.allowing_from(&from)?,
        None => key_options.clone(),
    };
    if let Some(days) = expires_in_days {
        options = options.expiring(Lifetime::days(days)?.ends(Date::today()));
    }
    Ok((label, options))
}

/// The label and options of the key that replaces keyhatch's key `fingerprint` among `keys`,
/// held to the site's `key_options` (see [`crate::ssh::rotate::successor_options`]), and that
/// key as listed: for the page, the API and the terminal alike.
pub async fn successor_settings(
    keys: &super::person::Keys,
    key_options: &KeyOptions,
    fingerprint: &str,
    expires_in_days: Option<u32>,
) -> Result<(Option<crate::ssh::Label>, KeyOptions, crate::model::KeyInfo), AppError> {
    use crate::ssh::{Date, Label, Lifetime, rotate};

    let list = keys.list_keys().await?;
    let listed = list.keys.len();
    let old = list
        .keys
        .into_iter()
        .find(|k| k.fingerprint == fingerprint)
        .ok_or_else(|| {
            AppError::NotFound(match list.keys_not_listed {
                0 => format!("no keyhatch key with fingerprint {fingerprint} is in your file"),
                _ => format!(
                    "no keyhatch key with fingerprint {fingerprint} is among the newest \
                     {listed} of your file, the ones keyhatch can replace"
                ),
            })
        })?;
    let lifetime = expires_in_days.map(Lifetime::days).transpose()?;
    let options =
        rotate::successor_options(old.options.as_bytes(), key_options, lifetime, Date::today())
            .map_err(crate::ssh::Error::from)?;
    let label = Label::parse(old.label.as_deref().unwrap_or_default())?;
    Ok((label, options, old))
}

/// The Platform access token the person pasted, or the 400 that asks for one.
pub fn platform_token(token: crate::model::Secret) -> Result<crate::seqera::Token, AppError> {
    crate::seqera::Token::new(&token.expose()).ok_or_else(|| {
        answer_with_status(AppError::Invalid(
            "paste a Platform access token: one word, with no blanks or line breaks inside".into(),
        ))
    })
}

/// A private key to hand to Platform, wiped from memory when dropped, and its fingerprint,
/// which names it in the audit log; anything but an OpenSSH private key is a 400.
pub fn key_for_platform(
    private_key: crate::model::Secret,
) -> Result<(zeroize::Zeroizing<String>, String), AppError> {
    let private_key = zeroize::Zeroizing::new(private_key.expose());
    let fingerprint = ssh_key::PrivateKey::from_openssh(private_key.as_str())
        .map(|k| crate::ssh::fingerprint(k.public_key()))
        .map_err(|_| {
            answer_with_status(AppError::Invalid(
                "that is not an OpenSSH private key".into(),
            ))
        })?;
    Ok((private_key, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The red team's attack: a person past `keys-per-hour` sent generates without end, then
    /// revokes of a key that is not there; each refusal, which costs no work, wrote an audit
    /// line (5 MB, then 2 MB, in 10 seconds). Then revokes of a file they held a lease on,
    /// each failing at once (1.6 MB in 5 seconds).
    #[test]
    fn a_flood_of_refused_requests_writes_one_audit_line_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::to_file(&path).unwrap();
        let remote = ClientAddr("unix".into());
        let revoke = |result: &Result<(), AppError>| {
            record(&audit, "alice", &remote, "revoke", Some("SHA256:…"), result);
        };
        for _ in 0..1000 {
            let refused = Err::<(), _>(AppError::TooMany("10 keys in the last hour".into()));
            record(&audit, "alice", &remote, "generate", None, &refused);
        }
        for _ in 0..1000 {
            revoke(&Err(AppError::NotFound("no key SHA256:…".into())));
        }
        for n in 0..1000 {
            let held = format!("{}: Resource temporarily unavailable", ["a", "b"][n % 2]);
            revoke(&Err(AppError::Storage(held)));
        }
        for _ in 0..3 {
            revoke(&Err(AppError::Conflict("another program rewrote".into())));
        }
        record(
            &audit,
            "alice",
            &remote,
            "restrict",
            Some("SHA256:x"),
            &Ok(()),
        );
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(
            lines, 5,
            "one line each for the 429s, the 404s, the failures, the conflicts and the change"
        );
    }
}
