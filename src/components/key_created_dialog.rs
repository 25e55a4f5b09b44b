use leptos::prelude::*;

use crate::components::copy_button::CopyButton;
use crate::components::modal::Modal;
use crate::model::GeneratedKey;

/// "SSH Key Generated": the one chance to copy the private key, and what the key is.
/// Closing before copying asks once more, since the key is then lost for good.
#[component]
pub fn KeyCreatedDialog(key: GeneratedKey, on_close: Callback<()>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let asked = RwSignal::new(false);
    let unconfirmed = move || asked.get() && !copied.get();
    let close = Callback::new(move |()| {
        if copied.get_untracked() || asked.get_untracked() {
            on_close.run(());
        } else {
            asked.set(true);
        }
    });
    let GeneratedKey {
        private_key,
        encrypted,
        info,
    } = key;

    view! {
        <Modal title="SSH Key Generated" on_dismiss=close>
            <div class="warning" role="alert">
                <strong>"Copy your private key now."</strong>
                " It cannot be shown again: keyhatch does not keep it. Paste it somewhere safe, such as Seqera Platform's credentials, before you close this dialog."
            </div>
            <CopyButton text=private_key copied />
            <section class="key-info" aria-labelledby="key-info-title">
                <h3 id="key-info-title">"Key Information"</h3>
                <dl>
                    <dt>"Type"</dt>
                    <dd data-field="type">{info.key_type}</dd>
                    <dt>"Fingerprint"</dt>
                    <dd data-field="fingerprint" class="mono">{info.fingerprint}</dd>
                    <dt>"Comment"</dt>
                    <dd data-field="comment">{info.comment}</dd>
                    <dt>"Passphrase"</dt>
                    <dd data-field="passphrase">{if encrypted { "Yes" } else { "None" }}</dd>
                </dl>
            </section>
            <Show when=unconfirmed>
                <p class="error" role="alert">
                    "You have not copied the private key. If you close now, it is lost and you will need a new key."
                </p>
            </Show>
            <div class="actions">
                <button class=move || if unconfirmed() { "danger" } else { "primary" }
                    on:click=move |_| close.run(())>
                    {move || if unconfirmed() { "Close without copying" } else { "Close" }}
                </button>
            </div>
        </Modal>
    }
}
