use leptos::html::Select;
use leptos::prelude::*;

use crate::api::RestrictKey;
use crate::components::allowed_from_fields::{AllowedFromFields, FromChoice};
use crate::components::key_settings::Draft;
use crate::components::modal::{CLOSE_FORM, Modal};
use crate::model::KeyInfo;
use crate::paths::ssh_keys_url;

/// "Restrict SSH Key": narrows where one of keyhatch's keys may log in from, or brings its
/// last day closer. A change never widens either.
#[component]
pub fn RestrictDialog(
    key: KeyInfo,
    restrict: ServerAction<RestrictKey>,
    on_close: Callback<()>,
    /// What the form held when it comes back from the server with an error (no JavaScript).
    #[prop(optional)]
    draft: Draft,
) -> impl IntoView {
    let pending = restrict.pending();
    let result = restrict.value();
    let error = move || result.get().and_then(Result::err);
    let from = FromChoice::new(&draft.allowed_from, &draft.allowed_from_custom);
    let expires_on = RwSignal::new(draft.expires_on);
    let first_field = NodeRef::<Select>::new();
    Effect::new(move |_| {
        if let Some(select) = first_field.get() {
            request_animation_frame(move || drop(select.focus()));
        }
    });
    let cancel = Callback::new(move |()| {
        if !pending.get_untracked() {
            on_close.run(());
        }
    });
    let fingerprint = key.fingerprint.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !pending.get_untracked() {
            let day = expires_on.get_untracked();
            restrict.dispatch(RestrictKey {
                fingerprint: fingerprint.clone(),
                allowed_from: from.to_send(),
                expires_on: (!day.trim().is_empty()).then_some(day),
            });
        }
    };
    let now_from = key.allowed_from.clone().map_or_else(
        || "anywhere".to_owned(),
        |patterns| patterns.replace(',', ", "),
    );
    let now_expires = key.expires.clone().unwrap_or_else(|| "never".to_owned());
    let label = key
        .label
        .clone()
        .unwrap_or_else(|| key.comment().to_owned());

    view! {
        <Modal title="Restrict SSH Key" on_dismiss=cancel>
            <form method="post" action=ssh_keys_url() on:submit=submit>
                <input type="hidden" name="intent" value="restrict" />
                <input type="hidden" name="fingerprint" value=key.fingerprint.clone() />
                <p>"Narrow where " <strong>{label}</strong> " may log in from, or make it stop working sooner. A change only narrows: the key never gains an address or a later day."</p>
                <dl class="key-info">
                    <dt>"Fingerprint"</dt>
                    <dd class="mono">{key.fingerprint}</dd>
                    <dt>"Logs in from"</dt>
                    <dd data-field="now-from">{now_from}</dd>
                    <dt>"Expires"</dt>
                    <dd>{now_expires}</dd>
                </dl>
                <AllowedFromFields from disabled=pending unchanged="Unchanged" node_ref=first_field />
                <label for="key-expires-on">"Stops working on (optional)"</label>
                <input id="key-expires-on" name="expires_on" type="date" disabled=pending
                    value=expires_on.get_untracked() prop:value=expires_on
                    on:input=move |ev| expires_on.set(event_target_value(&ev)) />
                {move || error().map(|e| view! {
                    <p class="error" role="alert"><strong>"The key could not be restricted. "</strong>{e.to_string()}</p>
                })}
                <div class="actions">
                    <button type="submit" form=CLOSE_FORM disabled=pending
                        on:click=move |ev| { ev.prevent_default(); cancel.run(()); }>"Cancel"</button>
                    <button type="submit" class="primary" disabled=pending
                        aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Restricting…" } else { "Restrict Key" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
