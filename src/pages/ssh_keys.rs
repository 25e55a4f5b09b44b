use leptos::either::Either;
use leptos::prelude::*;
use leptos::reactive::signal::MappedSignal;

use crate::api::{
    AddKey, FixPermissions, GenerateKey, RestrictKey, RevokeKey, list_keys, other_keys,
};
use crate::components::allowed_from_fields::FromLists;
use crate::components::dialog_button::{self, DialogButton};
use crate::components::dialogs;
use crate::components::health_banner::HealthBanner;
use crate::components::key_list::KeyList;
use crate::components::key_settings::Draft;
use crate::components::other_keys::OtherKeys;
use crate::error::AppError;
use crate::hydration::use_hydrated;
use crate::json::JsonText;
use crate::model::{GeneratedKey, KeyInfo};
use crate::paths::ssh_keys_url;

/// Which dialog is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// None.
    None,
    /// Generate SSH Key.
    Generate,
    /// Add Existing Key.
    Add,
}

/// What a server action last answered, as its `value()` handle. Taken once per action: each
/// `value()` call makes a new signal under the current owner (`tests/it/action_handles.rs`).
type Answer<T> = MappedSignal<Option<Result<T, AppError>>>;

/// The page's signals, some of which a form posted without JavaScript sets.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
struct PageState {
    generated: Answer<GeneratedKey>,
    added: Answer<KeyInfo>,
    revoked: Answer<()>,
    restricted: Answer<KeyInfo>,
    open: RwSignal<Open>,
    draft: RwSignal<Draft>,
    revoking: RwSignal<Option<KeyInfo>>,
    /// The key to revoke, by fingerprint, until the list is read.
    revoke_asked: RwSignal<Option<String>>,
    restricting: RwSignal<Option<KeyInfo>>,
    /// The key to restrict, by fingerprint, until the list is read.
    restrict_asked: RwSignal<Option<String>>,
    replacing: RwSignal<Option<KeyInfo>>,
    /// The key to replace, by fingerprint, until the list is read.
    replace_asked: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
}

/// The SSH Keys page: what the keys are for, whether sshd can use them, the list, the other
/// keys of the file, and the dialogs that make, add and revoke keys.
///
/// With JavaScript the dialogs open in place and call the API. Without, every button submits
/// the page's one form: `?dialog=generate|add` and `?revoke=FINGERPRINT` ask the server for
/// the page with that dialog open, and the dialogs post to the page, which answers with the
/// outcome.
#[component]
pub fn SshKeysPage() -> impl IntoView {
    let generate = ServerAction::<GenerateKey>::new();
    let add = ServerAction::<AddKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let restrict = ServerAction::<RestrictKey>::new();
    let fix = ServerAction::<FixPermissions>::new();
    let state = PageState {
        generated: generate.value(),
        added: add.value(),
        revoked: revoke.value(),
        restricted: restrict.value(),
        open: RwSignal::new(Open::None),
        draft: RwSignal::new(Draft::default()),
        revoking: RwSignal::new(None),
        revoke_asked: RwSignal::new(None),
        restricting: RwSignal::new(None),
        restrict_asked: RwSignal::new(None),
        replacing: RwSignal::new(None),
        replace_asked: RwSignal::new(None),
        notice: RwSignal::new(None),
    };
    let PageState {
        generated,
        added,
        revoked,
        restricted,
        open,
        revoking,
        restricting,
        replacing,
        notice,
        ..
    } = state;
    server::requested(state);
    // Taken once, like the answers: every `version()` call makes a new signal.
    let versions = [
        generate.version(),
        add.version(),
        revoke.version(),
        restrict.version(),
        fix.version(),
    ];
    // Every finished change refetches the lists, so they are current without a reload.
    let changes = move || versions.map(|version| version.get());
    let keys = Resource::<_, JsonText>::new_with_options(
        changes,
        move |_| async move {
            let list = list_keys().await;
            server::find_asked(state, &list);
            list
        },
        false,
    );
    let others = Resource::<_, JsonText>::new_with_options(changes, move |_| other_keys(), false);
    // A change made inside a dialog with an action of its own (the old key of a replacement).
    let reread = Callback::new(move |()| {
        keys.refetch();
        others.refetch();
    });
    let present = Signal::derive(move || {
        let ours = keys.get().and_then(Result::ok).map(|l| l.keys);
        let theirs = others.get().and_then(Result::ok).map(|l| l.keys);
        ours.into_iter()
            .chain(theirs)
            .flatten()
            .map(|k| k.fingerprint)
            .collect::<Vec<_>>()
    });

    provide_context(FromLists(Signal::derive(move || {
        keys.get()
            .and_then(Result::ok)
            .map(|list| list.from_lists)
            .unwrap_or_default()
    })));
    let open_restrict = Callback::new(move |key| {
        restricted.set(None);
        restricting.set(Some(key));
    });
    let close_restrict = Callback::new(move |()| restricting.set(None));
    Effect::new(move |_| {
        if let Some(Ok(key)) = restricted.get() {
            restricted.set(None);
            restricting.set(None);
            notice.set(Some(format!("Key restricted: {}", key.fingerprint)));
        }
    });
    let open_revoke = Callback::new(move |key| {
        revoked.set(None);
        revoking.set(Some(key));
    });
    let close_revoke = Callback::new(move |()| revoking.set(None));
    Effect::new(move |_| {
        if let Some(Ok(())) = revoked.get() {
            revoked.set(None);
            revoking.set(None);
        }
    });

    let open_replace = Callback::new(move |key| {
        generated.set(None);
        replacing.set(Some(key));
    });
    let close_replace = Callback::new(move |()| replacing.set(None));
    let created = move || generated.get().and_then(Result::ok);
    let open_new_key = Callback::new(move |()| {
        generated.set(None);
        open.set(Open::Generate);
    });
    let open_add = Callback::new(move |()| {
        added.set(None);
        open.set(Open::Add);
    });
    let close = Callback::new(move |()| open.set(Open::None));
    // Closing drops the private key from memory: it is never shown again.
    let close_created = Callback::new(move |()| {
        generated.set(None);
        open.set(Open::None);
        replacing.set(None);
    });
    Effect::new(move |_| {
        if let Some(Ok(key)) = added.get() {
            added.set(None);
            notice.set(Some(format!("Key added: {}", key.fingerprint)));
            open.set(Open::None);
        }
    });
    let hydrated = use_hydrated();
    let buttons = move || {
        view! {
            <DialogButton label="+ New Key" class="primary" query=("dialog", "generate".to_owned())
                on_click=open_new_key prefetch=dialogs::prefetch />
            <DialogButton label="Add existing key" query=("dialog", "add".to_owned())
                on_click=open_add prefetch=dialogs::prefetch />
        }
    };

    view! {
        <section class="page">
            // The one form every dialog button submits without JavaScript (`DialogButton`).
            <form id=dialog_button::FORM method="get" action=ssh_keys_url() hidden></form>
            <div class="page-head">
                <h1>"SSH Keys"</h1>
                <Transition>
                    <Show when=move || {
                        keys.get().and_then(Result::ok).is_some_and(|list| !list.keys.is_empty())
                    }>
                        <div class="head-buttons">{buttons}</div>
                    </Show>
                </Transition>
            </div>
            <p class="lead">
                "Generate an SSH key so that a workflow platform such as Seqera Platform can log in as you on the cluster. Each key is added to your "
                <code>"~/.ssh/authorized_keys"</code>
                " and tagged with a comment, so you can recognise it there; the file is shared by every cluster node that mounts your home directory."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                // Inside the transition: on the server, a posted form's outcome is known here.
                <p class="notice" role="status">{move || notice.get()}</p>
                {move || keys.get().map(|result| match result {
                    Ok(list) => Either::Left(view! {
                        <HealthBanner problems=list.problems.clone() fix />
                        {list.keys.is_empty().then(|| view! {
                            <div class="empty">
                                <p>"No SSH keys found"</p>
                                <div class="head-buttons">{buttons}</div>
                            </div>
                        })}
                        <KeyList list on_revoke=open_revoke on_restrict=open_restrict on_replace=open_replace />
                    }),
                    Err(e) => Either::Right(view! {
                        <div class="error" role="alert">
                            <p><strong>"Your keys could not be listed. "</strong>{e.to_string()}</p>
                            <button on:click=move |_| keys.refetch() disabled=move || !hydrated.get()>"Try again"</button>
                        </div>
                    }),
                })}
                {move || others.get().and_then(Result::ok).map(|list| view! { <OtherKeys list /> })}
            </Transition>
        </section>
        // On the server the dialogs wait for the lists, and so for any posted form's outcome.
        <Transition>
            {move || {
                #[cfg(feature = "ssr")]
                keys.track();
            }}
            <Show when=move || open.get() == Open::Generate && created().is_none()>
                {dialogs::new_key(generate, close, state.draft.get_untracked())}
            </Show>
            <Show when=move || open.get() == Open::Add>
                {dialogs::add_key(add, present, close, state.draft.get_untracked())}
            </Show>
            {move || replacing.get().filter(|_| created().is_none()).map(|key| {
                dialogs::replace_key(key, generate, close_replace, state.draft.get_untracked())
            })}
            {move || created().map(|key| dialogs::key_created(key, close_created, reread))}
            {move || revoking.get().map(|key| dialogs::revoke(key, revoke, close_revoke))}
            {move || restricting.get().map(|key| {
                dialogs::restrict(key, restrict, close_restrict, state.draft.get_untracked())
            })}
        </Transition>
    }
}

/// What the server renders differently: a dialog asked for in the query, a form's outcome.
/// In the browser these do nothing: a page with either is never hydrated.
mod server {
    use super::PageState;
    use crate::error::AppError;
    use crate::model::KeyList;

    /// Opens the dialog the query asks for, and shows what a posted form did (done before the
    /// render, `server::page::submit_form`): set here, before anything renders, so no render
    /// reads these signals while they are written.
    #[cfg(feature = "ssr")]
    pub fn requested(state: PageState) {
        use leptos::prelude::*;

        use super::{Draft, Open};
        use crate::api::form::{self, Outcome};

        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            let query = parts.uri.query().unwrap_or_default();
            // A link from another site opens no dialog: its page could put the dialog's button
            // under the second click of a double-click it asks for (red team).
            let pairs = form_urlencoded(query);
            if !form::may_open_a_dialog(&parts.headers) && form::asks_for_a_dialog(&pairs) {
                state.notice.set(Some(
                    "This address asks for a dialog, and keyhatch opens one only from its own \
                     page or an address you typed. Use the buttons below."
                        .to_owned(),
                ));
            } else {
                open_asked(state, pairs);
            }
        }
        let Some(form::Answered { posted, outcome }) = use_context::<form::Answered>() else {
            return;
        };
        let draft = Draft {
            label: posted.label.clone(),
            lifetime: posted.lifetime().ok().flatten(),
            // A private key pasted by mistake is not shown again.
            public_key: if crate::model::looks_private(&posted.public_key) {
                String::new()
            } else {
                posted.public_key
            },
            checked: None,
            allowed_from: posted.allowed_from.clone(),
            allowed_from_custom: posted.allowed_from_custom.clone(),
            expires_on: posted.expires_on.clone(),
        };
        match outcome {
            Outcome::Generated(key) => state.generated.set(Some(Ok(key))),
            Outcome::GenerateFailed(e) => {
                state.draft.set(draft);
                state.generated.set(Some(Err(e)));
                if posted.replaces.is_empty() {
                    state.open.set(Open::Generate);
                } else {
                    state.replace_asked.set(Some(posted.replaces));
                }
            }
            Outcome::AddChecked(key) => {
                state.draft.set(Draft {
                    checked: Some(key),
                    ..draft
                });
                state.open.set(Open::Add);
            }
            Outcome::Added(key) => {
                state
                    .notice
                    .set(Some(format!("Key added: {}", key.fingerprint)));
            }
            Outcome::AddFailed(e) => {
                state.draft.set(draft);
                state.added.set(Some(Err(e)));
                state.open.set(Open::Add);
            }
            Outcome::Revoked(fingerprint) => {
                state
                    .notice
                    .set(Some(format!("Key revoked: {fingerprint}")));
            }
            Outcome::RevokeFailed(e) => {
                state.revoked.set(Some(Err(e)));
                state.revoke_asked.set(Some(posted.fingerprint));
            }
            Outcome::Restricted(key) => {
                state
                    .notice
                    .set(Some(format!("Key restricted: {}", key.fingerprint)));
            }
            Outcome::RestrictFailed(e) => {
                state.draft.set(draft);
                state.restricted.set(Some(Err(e)));
                state.restrict_asked.set(Some(posted.fingerprint));
            }
        }
    }

    /// Opens the dialogs `pairs` (the query's) ask for.
    #[cfg(feature = "ssr")]
    fn open_asked(state: PageState, pairs: Vec<(String, String)>) {
        use super::Open;
        use leptos::prelude::Set;

        for (name, value) in pairs {
            match (name.as_str(), value.as_str()) {
                ("dialog", "generate") => state.open.set(Open::Generate),
                ("dialog", "add") => state.open.set(Open::Add),
                ("revoke", fingerprint) => state.revoke_asked.set(Some(fingerprint.into())),
                ("restrict", fingerprint) => state.restrict_asked.set(Some(fingerprint.into())),
                ("replace", fingerprint) => state.replace_asked.set(Some(fingerprint.into())),
                _ => {}
            }
        }
    }

    /// In the browser no dialog is asked for by the query.
    #[cfg(not(feature = "ssr"))]
    pub fn requested(_state: PageState) {}

    /// Opens the Revoke, Restrict or Replace dialog for the key the query (or a failed form) named,
    /// once listed.
    pub fn find_asked(state: PageState, list: &Result<KeyList, AppError>) {
        use leptos::prelude::*;

        let find = |asked: RwSignal<Option<String>>| {
            let fingerprint = asked.get_untracked()?;
            let keys = &list.as_ref().ok()?.keys;
            keys.iter().find(|k| k.fingerprint == fingerprint).cloned()
        };
        if let Some(key) = find(state.revoke_asked) {
            state.revoking.set(Some(key));
        }
        if let Some(key) = find(state.restrict_asked) {
            state.restricting.set(Some(key));
        }
        if let Some(key) = find(state.replace_asked) {
            state.replacing.set(Some(key));
        }
    }

    /// The `name=value` pairs of a query string, decoded.
    #[cfg(feature = "ssr")]
    fn form_urlencoded(query: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(query).unwrap_or_default()
    }
}
