use leptos::prelude::*;

use crate::api::RevokeKey;
use crate::components::arming::Arming;
use crate::components::modal::{CLOSE_FORM, Modal};
use crate::model::KeyInfo;
use crate::paths::ssh_keys_url;

/// "Revoke SSH Key": confirms removing one key from `authorized_keys`.
#[component]
pub fn RevokeDialog(
    key: KeyInfo,
    revoke: ServerAction<RevokeKey>,
    on_close: Callback<()>,
) -> impl IntoView {
    let pending = revoke.pending();
    let result = revoke.value();
    let error = move || result.get().and_then(Result::err);
    let cancel = Callback::new(move |()| {
        if !pending.get_untracked() {
            on_close.run(());
        }
    });
    let fingerprint = key.fingerprint.clone();
    let arming = Arming::start();
    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if arming.take() && !pending.get_untracked() {
            revoke.dispatch(RevokeKey {
                fingerprint: fingerprint.clone(),
            });
        }
    };
    let (key_type, comment) = (key.key_type().to_owned(), key.comment().to_owned());
    let posted_fingerprint = key.fingerprint.clone();

    view! {
        <Modal title="Revoke SSH Key" on_dismiss=cancel>
            <p>
                "This removes the key from your " <code>"~/.ssh/authorized_keys"</code>
                ". Anything that logs in with it, such as Seqera Platform, will stop working on every cluster node."
            </p>
            <dl class="key-info">
                <dt>"Type"</dt>
                <dd>{key_type}</dd>
                <dt>"Fingerprint"</dt>
                <dd class="mono">{key.fingerprint}</dd>
                <dt>"Comment"</dt>
                <dd>{comment}</dd>
            </dl>
            {move || error().map(|e| view! {
                <p class="error" role="alert"><strong>"The key could not be revoked. "</strong>{e.to_string()}</p>
            })}
            <form class="actions" method="post" action=ssh_keys_url() on:submit=confirm>
                <input type="hidden" name="intent" value="revoke" />
                <input type="hidden" name="fingerprint" value=posted_fingerprint />
                <button type="submit" form=CLOSE_FORM disabled=pending
                    on:click=move |ev| { ev.prevent_default(); cancel.run(()); }>"Cancel"</button>
                <button type="submit" class="danger" disabled=pending>
                    {move || if pending.get() { "Revoking…" } else { "Revoke Key" }}
                </button>
            </form>
        </Modal>
    }
}
