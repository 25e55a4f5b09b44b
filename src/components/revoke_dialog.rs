use leptos::prelude::*;

use crate::api::RevokeKey;
use crate::components::modal::Modal;
use crate::model::KeyInfo;

/// "Revoke SSH Key": confirms removing one key from `authorized_keys`.
#[component]
pub fn RevokeDialog(
    key: KeyInfo,
    revoke: ServerAction<RevokeKey>,
    on_close: Callback<()>,
) -> impl IntoView {
    let pending = revoke.pending();
    let error = move || revoke.value().get().and_then(Result::err);
    let cancel = Callback::new(move |()| {
        if !pending.get_untracked() {
            on_close.run(());
        }
    });
    let fingerprint = key.fingerprint.clone();
    let confirm = move |_| {
        revoke.dispatch(RevokeKey {
            fingerprint: fingerprint.clone(),
        });
    };

    view! {
        <Modal title="Revoke SSH Key" on_dismiss=cancel>
            <p>
                "This removes the key from your " <code>"~/.ssh/authorized_keys"</code>
                ". Anything that logs in with it, such as Seqera Platform, will stop working on every cluster node."
            </p>
            <dl class="key-info">
                <dt>"Type"</dt>
                <dd>{key.key_type}</dd>
                <dt>"Fingerprint"</dt>
                <dd class="mono">{key.fingerprint}</dd>
                <dt>"Comment"</dt>
                <dd>{key.comment}</dd>
            </dl>
            {move || error().map(|e| view! {
                <p class="error" role="alert"><strong>"The key could not be revoked. "</strong>{e.to_string()}</p>
            })}
            <div class="actions">
                <button type="button" on:click=move |_| cancel.run(()) disabled=pending>"Cancel"</button>
                <button type="button" class="danger" on:click=confirm disabled=pending>
                    {move || if pending.get() { "Revoking…" } else { "Revoke Key" }}
                </button>
            </div>
        </Modal>
    }
}
