use leptos::html::Input;
use leptos::prelude::*;

use crate::api::GenerateKey;
use crate::components::key_settings::{Draft, KeySettings, KeySettingsFields};
use crate::components::modal::{CLOSE_FORM, Modal};
use crate::components::passphrase_fields::PassphraseFields;
use crate::model::Secret;
use crate::paths::ssh_keys_url;

/// "Generate SSH Key": an optional passphrase, typed twice, a label and a lifetime, and the
/// button that makes the key.
#[component]
pub fn NewKeyDialog(
    generate: ServerAction<GenerateKey>,
    on_cancel: Callback<()>,
    /// What the form held when it comes back from the server with an error (no JavaScript).
    #[prop(optional)]
    draft: Draft,
) -> impl IntoView {
    let passphrase = RwSignal::new(String::new());
    let first_field = NodeRef::<Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first_field.get() {
            request_animation_frame(move || {
                // Not away from a field the person chose in the meantime: what they type
                // there stays there (a label typed into the passphrase field, in the tests).
                let chosen = document()
                    .active_element()
                    .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT"));
                if !chosen {
                    drop(input.focus());
                }
            });
        }
    });
    let confirm = RwSignal::new(String::new());
    let pending = generate.pending();
    let settings = KeySettings::from_draft(&draft);
    let mismatch = move || passphrase.with(|p| confirm.with(|c| p != c));
    let blocked = move || mismatch() || settings.label_problem().is_some();
    let result = generate.value();
    let error = move || result.get().and_then(Result::err);
    let cancel = Callback::new(move |()| {
        if !pending.get_untracked() {
            on_cancel.run(());
        }
    });
    // Posted without JavaScript, the form carries a one-time id, so that sending it again (a
    // reload, a browser's retry) makes no second key (`api::sent_forms`). The page's code
    // sends no form and needs none.
    #[cfg(feature = "ssr")]
    let form_id = Some(crate::api::form::new_form_id());
    #[cfg(not(feature = "ssr"))]
    let form_id: Option<String> = None;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() || blocked() {
            return;
        }
        let typed = passphrase.get_untracked();
        generate.dispatch(GenerateKey {
            passphrase: (!typed.is_empty()).then(|| Secret::new(typed)),
            label: settings.label_to_send(),
            expires_in_days: settings.lifetime.get_untracked(),
            allowed_from: settings.from.to_send(),
            replaces: None,
        });
    };

    view! {
        <Modal title="Generate SSH Key" on_dismiss=cancel>
            <form method="post" action=ssh_keys_url() on:submit=submit>
                <input type="hidden" name="intent" value="generate" />
                {form_id.map(|id| view! { <input type="hidden" name="form_id" value=id /> })}
                <p>
                    "This creates a new ed25519 key pair and adds its public key to your "
                    <code>"~/.ssh/authorized_keys"</code> " file."
                </p>
                <PassphraseFields passphrase confirm node_ref=first_field disabled=pending />
                <KeySettingsFields settings disabled=pending />
                {move || error().map(|e| view! {
                    <p class="error" role="alert"><strong>"The key could not be generated. "</strong>{e.to_string()}</p>
                })}
                <div class="actions">
                    <button type="submit" form=CLOSE_FORM disabled=pending
                        on:click=move |ev| { ev.prevent_default(); cancel.run(()); }>"Cancel"</button>
                    <button type="submit" class="primary" disabled=move || pending.get() || blocked()
                        aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Generating…" } else { "Generate Key" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
