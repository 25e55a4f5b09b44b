use leptos::html::Input;
use leptos::prelude::*;

use crate::api::GenerateKey;
use crate::components::key_settings::Draft;
use crate::components::lifetime_select::LifetimeSelect;
use crate::components::modal::{CLOSE_FORM, Modal};
use crate::components::passphrase_fields::PassphraseFields;
use crate::model::{KeyInfo, Secret};
use crate::paths::ssh_keys_url;

/// "Replace SSH Key": makes the successor of one of keyhatch's keys, with its label, where it
/// may log in from and its last day (or a lifetime of its own), beside it. The old key keeps
/// working until the person revokes it, which the next dialog offers.
#[component]
pub fn ReplaceKeyDialog(
    key: KeyInfo,
    generate: ServerAction<GenerateKey>,
    on_cancel: Callback<()>,
    /// What the form held when it comes back from the server with an error (no JavaScript).
    #[prop(optional)]
    draft: Draft,
) -> impl IntoView {
    let (passphrase, confirm) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let lifetime = RwSignal::new(draft.lifetime);
    let first_field = NodeRef::<Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first_field.get() {
            request_animation_frame(move || drop(input.focus()));
        }
    });
    let pending = generate.pending();
    let mismatch = move || passphrase.with(|p| confirm.with(|c| p != c));
    let result = generate.value();
    let error = move || result.get().and_then(Result::err);
    let cancel = Callback::new(move |()| {
        if !pending.get_untracked() {
            on_cancel.run(());
        }
    });
    // As the Generate dialog's: a resent form makes no second key (`api::sent_forms`).
    #[cfg(feature = "ssr")]
    let form_id = Some(crate::api::form::new_form_id());
    #[cfg(not(feature = "ssr"))]
    let form_id: Option<String> = None;
    let old = key.fingerprint.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() || mismatch() {
            return;
        }
        let typed = passphrase.get_untracked();
        generate.dispatch(GenerateKey {
            passphrase: (!typed.is_empty()).then(|| Secret::new(typed)),
            label: None,
            expires_in_days: lifetime.get_untracked(),
            allowed_from: None,
            replaces: Some(old.clone()),
        });
    };
    let same = match &key.expires {
        Some(day) if !key.expired => format!("As the old key: {day}"),
        Some(_) => "Choose one: the old key has expired".to_owned(),
        None => "Never, as the old key".to_owned(),
    };
    let label = key
        .label
        .clone()
        .unwrap_or_else(|| key.comment().to_owned());
    let from = key
        .allowed_from
        .clone()
        .map_or_else(|| "anywhere".to_owned(), |p| p.replace(',', ", "));

    view! {
        <Modal title="Replace SSH Key" on_dismiss=cancel>
            <form method="post" action=ssh_keys_url() on:submit=submit>
                <input type="hidden" name="intent" value="generate" />
                <input type="hidden" name="replaces" value=key.fingerprint.clone() />
                {form_id.map(|id| view! { <input type="hidden" name="form_id" value=id /> })}
                <p>
                    "This makes a new key for " <strong>{label}</strong>
                    ", with the same label and the same addresses, and adds it beside the old one. The old key keeps working until you revoke it: the next step offers that, after you have put the new key where the old one was used."
                </p>
                <dl class="key-info">
                    <dt>"Replaces"</dt>
                    <dd class="mono" data-field="replaces">{key.fingerprint.clone()}</dd>
                    <dt>"Logs in from"</dt>
                    <dd>{from}</dd>
                </dl>
                <PassphraseFields passphrase confirm node_ref=first_field disabled=pending />
                <LifetimeSelect lifetime disabled=pending none_text=same />
                {move || error().map(|e| view! {
                    <p class="error" role="alert"><strong>"The key could not be replaced. "</strong>{e.to_string()}</p>
                })}
                <div class="actions">
                    <button type="submit" form=CLOSE_FORM disabled=pending
                        on:click=move |ev| { ev.prevent_default(); cancel.run(()); }>"Cancel"</button>
                    <button type="submit" class="primary" disabled=move || pending.get() || mismatch()
                        aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Replacing…" } else { "Replace Key" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
