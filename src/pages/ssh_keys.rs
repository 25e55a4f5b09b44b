use leptos::either::Either;
use leptos::prelude::*;

use crate::api::{AddKey, FixPermissions, GenerateKey, RevokeKey, list_keys, other_keys};
use crate::components::add_key_dialog::AddKeyDialog;
use crate::components::health_banner::HealthBanner;
use crate::components::key_created_dialog::KeyCreatedDialog;
use crate::components::key_list::KeyList;
use crate::components::new_key_button::NewKeyButton;
use crate::components::new_key_dialog::NewKeyDialog;
use crate::components::other_keys::OtherKeys;
use crate::components::revoke_dialog::RevokeDialog;
use crate::hydration::use_hydrated;
use crate::model::KeyInfo;

/// Which dialog is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Generate,
    Add,
}

/// The SSH Keys page: what the keys are for, whether sshd can use them, the list, the other
/// keys of the file, and the dialogs that make, add and revoke keys.
#[component]
pub fn SshKeysPage() -> impl IntoView {
    let generate = ServerAction::<GenerateKey>::new();
    let add = ServerAction::<AddKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let fix = ServerAction::<FixPermissions>::new();
    // Every finished change refetches the lists, so they are current without a reload.
    let changes = move || {
        (
            generate.version().get(),
            add.version().get(),
            revoke.version().get(),
            fix.version().get(),
        )
    };
    let keys = Resource::new(changes, |_| list_keys());
    let others = Resource::new(changes, |_| other_keys());
    let present = Signal::derive(move || {
        let ours = keys.get().and_then(Result::ok).map(|l| l.keys);
        let theirs = others.get().and_then(Result::ok).map(|l| l.keys);
        ours.into_iter()
            .chain(theirs)
            .flatten()
            .map(|k| k.fingerprint)
            .collect::<Vec<_>>()
    });

    let revoking = RwSignal::new(None::<KeyInfo>);
    let open_revoke = Callback::new(move |key| {
        revoke.value().set(None);
        revoking.set(Some(key));
    });
    let close_revoke = Callback::new(move |()| revoking.set(None));
    Effect::new(move |_| {
        if let Some(Ok(())) = revoke.value().get() {
            revoke.value().set(None);
            revoking.set(None);
        }
    });

    let open = RwSignal::new(Open::None);
    let created = move || generate.value().get().and_then(Result::ok);
    let open_new_key = Callback::new(move |()| {
        generate.value().set(None);
        open.set(Open::Generate);
    });
    let open_add = Callback::new(move |()| {
        add.value().set(None);
        open.set(Open::Add);
    });
    let close = Callback::new(move |()| open.set(Open::None));
    // Closing drops the private key from memory: it is never shown again.
    let close_created = Callback::new(move |()| {
        generate.value().set(None);
        open.set(Open::None);
    });
    let added = RwSignal::new(None::<KeyInfo>);
    Effect::new(move |_| {
        if let Some(Ok(key)) = add.value().get() {
            add.value().set(None);
            added.set(Some(key));
            open.set(Open::None);
        }
    });
    let hydrated = use_hydrated();
    let buttons = move || {
        view! {
            <NewKeyButton on_click=open_new_key />
            <NewKeyButton on_click=open_add label="Add existing key" primary=false />
        }
    };

    view! {
        <section class="page">
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
            <noscript>
                <p class="error">"This page needs JavaScript to generate keys and copy them."</p>
            </noscript>
            <p class="notice" role="status">
                {move || added.get().map(|key| format!("Key added: {}", key.fingerprint))}
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || keys.get().map(|result| match result {
                    Ok(list) => Either::Left(view! {
                        <HealthBanner problems=list.problems.clone() fix />
                        {list.keys.is_empty().then(|| view! {
                            <div class="empty">
                                <p>"No SSH keys found"</p>
                                <div class="head-buttons">{buttons}</div>
                            </div>
                        })}
                        <KeyList list on_revoke=open_revoke />
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
        <Show when=move || open.get() == Open::Generate && created().is_none()>
            <NewKeyDialog generate on_cancel=close />
        </Show>
        <Show when=move || open.get() == Open::Add>
            <AddKeyDialog add present on_cancel=close />
        </Show>
        {move || created().map(|key| view! { <KeyCreatedDialog key on_close=close_created /> })}
        {move || revoking.get().map(|key| view! { <RevokeDialog key revoke on_close=close_revoke /> })}
    }
}
