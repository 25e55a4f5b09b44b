use leptos::html::Input;
use leptos::prelude::*;

/// The passphrase of a new key, typed twice, and whether the two differ; `node_ref` is the
/// first field, which the dialog focuses.
#[component]
pub fn PassphraseFields(
    passphrase: RwSignal<String>,
    confirm: RwSignal<String>,
    node_ref: NodeRef<Input>,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    let mismatch = move || passphrase.with(|p| confirm.with(|c| p != c));
    view! {
        <label for="passphrase">"Passphrase (optional)"</label>
        <input id="passphrase" name="passphrase" type="password" autocomplete="new-password" node_ref=node_ref
            bind:value=passphrase disabled=disabled />
        <label for="passphrase-confirm">"Confirm passphrase"</label>
        <input id="passphrase-confirm" name="passphrase_confirm" type="password" autocomplete="new-password"
            bind:value=confirm disabled=disabled />
        <p class="hint">
            "Leave both empty for passwordless access. With a passphrase, the key asks for it each time it is used."
        </p>
        <Show when=move || mismatch() && !confirm.with(String::is_empty)>
            <p class="field-error" role="alert">"The passphrases do not match."</p>
        </Show>
    }
}
