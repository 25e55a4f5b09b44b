use leptos::either::Either;
use leptos::prelude::*;

use crate::api::{FixPermissions, GenerateKey, RevokeKey, list_keys};
use crate::components::health_banner::HealthBanner;
use crate::components::key_created_dialog::KeyCreatedDialog;
use crate::components::key_list::KeyList;
use crate::components::new_key_button::NewKeyButton;
use crate::components::new_key_dialog::NewKeyDialog;
use crate::components::revoke_dialog::RevokeDialog;
use crate::hydration::use_hydrated;
use crate::model::KeyInfo;

/// The SSH Keys page: what the keys are for, whether sshd can use them, the list, and the
/// dialogs that make a key and revoke one.
#[component]
pub fn SshKeysPage() -> impl IntoView {
    let generate = ServerAction::<GenerateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let fix = ServerAction::<FixPermissions>::new();
    // Every finished change refetches the list, so it is current without a reload.
    let keys = Resource::new(
        move || {
            (
                generate.version().get(),
                revoke.version().get(),
                fix.version().get(),
            )
        },
        |_| list_keys(),
    );
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
    let new_key_open = RwSignal::new(false);
    let created = move || generate.value().get().and_then(Result::ok);
    let open_new_key = Callback::new(move |()| {
        generate.value().set(None);
        new_key_open.set(true);
    });
    // Closing drops the private key from memory: it is never shown again.
    let close_created = Callback::new(move |()| {
        generate.value().set(None);
        new_key_open.set(false);
    });
    let hydrated = use_hydrated();

    view! {
        <section class="page">
            <div class="page-head">
                <h1>"SSH Keys"</h1>
                <Transition>
                    <Show when=move || {
                        keys.get().and_then(Result::ok).is_some_and(|list| !list.keys.is_empty())
                    }>
                        <NewKeyButton on_click=open_new_key />
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
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || keys.get().map(|result| match result {
                    Ok(list) => Either::Left(view! {
                        <HealthBanner problems=list.problems.clone() fix />
                        {list.keys.is_empty().then(|| view! {
                            <div class="empty">
                                <p>"No SSH keys found"</p>
                                <NewKeyButton on_click=open_new_key />
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
            </Transition>
        </section>
        <Show when=move || new_key_open.get() && created().is_none()>
            <NewKeyDialog generate on_cancel=Callback::new(move |()| new_key_open.set(false)) />
        </Show>
        {move || created().map(|key| view! { <KeyCreatedDialog key on_close=close_created /> })}
        {move || revoking.get().map(|key| view! { <RevokeDialog key revoke on_close=close_revoke /> })}
    }
}
