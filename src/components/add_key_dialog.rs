use leptos::either::Either;
use leptos::html::Input;
use leptos::prelude::*;

use crate::api::{AddKey, InspectKey};
use crate::components::key_settings::{Draft, KeySettings, KeySettingsFields};
use crate::components::modal::{CLOSE_FORM, Modal};
use crate::hydration::use_hydrated;
use crate::model::{KeyInfo, looks_private};
use crate::paths::ssh_keys_url;

/// The largest `.pub` file read: an RSA key of 16,384 bits with a long comment fits.
const MAX_PUB_FILE: f64 = 16_384.0;

/// "Add Existing Key": a public key pasted or read from a `.pub` file, checked by the server and
/// shown (type, fingerprint) before it is added with a label and a lifetime. A private key is
/// refused here, in the page, and never sent.
#[component]
pub fn AddKeyDialog(
    add: ServerAction<AddKey>,
    /// Fingerprints already in the file.
    #[prop(into)]
    present: Signal<Vec<String>>,
    on_cancel: Callback<()>,
    /// What the form held when it comes back from the server (no JavaScript): the key to
    /// confirm, or an error.
    #[prop(optional)]
    draft: Draft,
) -> impl IntoView {
    let hydrated = use_hydrated();
    let text = RwSignal::new(draft.public_key.clone());
    let inspect = ServerAction::<InspectKey>::new();
    // Taken once: every `value()` or `pending()` call makes a new signal.
    let (inspected, inspecting) = (inspect.value(), inspect.pending());
    if let Some(checked) = draft.checked.clone() {
        inspected.set(Some(Ok(checked)));
    }
    let private_refused = RwSignal::new(false);
    let file_problem = RwSignal::new(None::<&'static str>);
    let settings = KeySettings::from_draft(&draft);
    let pending = add.pending();
    let first_field = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        if let Some(area) = first_field.get() {
            request_animation_frame(move || drop(area.focus()));
        }
    });

    let check = move |value: String| {
        inspected.set(None);
        // Emptying the box keeps the warning about a private key: it is what emptied it.
        if value.trim().is_empty() {
            return;
        }
        private_refused.set(false);
        if looks_private(&value) {
            // Dropped from the page at once: not kept, not sent.
            text.set(String::new());
            private_refused.set(true);
        } else {
            inspect.dispatch(InspectKey { public_key: value });
        }
    };
    // The answer for what is in the box now, not for an earlier text still on its way.
    let preview = move || {
        inspected.get().filter(|answer| match answer {
            Ok(key) => key
                .public_key
                .split(' ')
                .nth(1)
                .is_some_and(|blob| text.with(|t| t.contains(blob))),
            Err(_) => !inspecting.get(),
        })
    };
    let checked = move || preview().and_then(Result::ok);
    let duplicate =
        move || checked().is_some_and(|key| present.with(|p| p.contains(&key.fingerprint)));
    let ready = move || {
        checked().is_some() && !duplicate() && settings.label_problem().is_none() && !pending.get()
    };
    let placeholder = Signal::derive(move || {
        checked()
            .map(|key| key.comment().to_owned())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "e.g. my laptop".to_owned())
    });

    let file = NodeRef::<Input>::new();
    let read_file = move |_| {
        let Some(input) = file.get_untracked() else {
            return;
        };
        file_problem.set(None);
        leptos::task::spawn_local(async move {
            match crate::dom::read_chosen_file(&input, MAX_PUB_FILE).await {
                Ok(Some(contents)) => {
                    text.set(contents.clone());
                    check(contents);
                }
                Ok(None) => {}
                Err(crate::dom::FileError::TooLarge) => {
                    file_problem.set(Some("That file is too large to be a public key."));
                }
                Err(crate::dom::FileError::Unreadable) => {
                    file_problem.set(Some("That file could not be read."));
                }
            }
            // Choosing the same file again should read it again.
            input.set_value("");
        });
    };

    let cancel = Callback::new(move |()| {
        if !pending.get_untracked() {
            on_cancel.run(());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if ready() {
            add.dispatch(AddKey {
                public_key: text.get_untracked(),
                label: settings.label_to_send(),
                expires_in_days: settings.lifetime.get_untracked(),
                allowed_from: settings.from.to_send(),
            });
        }
    };
    let result = add.value();
    let error = move || result.get().and_then(Result::err);

    view! {
        <Modal title="Add Existing Key" on_dismiss=cancel>
            <form method="post" action=ssh_keys_url() on:submit=submit>
                <input type="hidden" name="intent" value="add" />
                <input type="hidden" name="checked"
                    value=move || checked().map(|key| key.fingerprint).unwrap_or_default() />
                <p>
                    "Already have a key pair? Add its public half to your "
                    <code>"~/.ssh/authorized_keys"</code>
                    ". Only the public key: the private key stays with you."
                </p>
                <label for="public-key">"Public key"</label>
                <textarea id="public-key" name="public_key" class="mono" rows="4" spellcheck="false"
                    autocomplete="off" placeholder="ssh-ed25519 AAAA… you@laptop" node_ref=first_field
                    prop:value=move || text.get() disabled=pending
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        text.set(value.clone());
                        check(value);
                    }>{draft.public_key}</textarea>
                // Reading a file needs the page's code; without it, paste.
                <Show when=move || hydrated.get()>
                    <label for="public-key-file">"Or choose a .pub file"</label>
                    <input id="public-key-file" type="file" accept=".pub,text/plain" node_ref=file
                        on:change=read_file disabled=pending />
                </Show>
                {move || file_problem.get().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
                <Show when=move || private_refused.get()>
                    <p class="error" role="alert">
                        <strong>"That is a private key, and it was not sent. "</strong>
                        "A private key must never be shared, not even with keyhatch. Paste the public key instead: the .pub file beside it."
                    </p>
                </Show>
                {move || preview().map(|answer| match answer {
                    Ok(key) => Either::Left(view! { <KeyPreview key duplicate=duplicate() /> }),
                    Err(e) => Either::Right(view! {
                        <p class="error" role="alert">{e.to_string()}</p>
                    }),
                })}
                <KeySettingsFields settings disabled=pending placeholder />
                {move || error().map(|e| view! {
                    <p class="error" role="alert"><strong>"The key could not be added. "</strong>{e.to_string()}</p>
                })}
                <div class="actions">
                    <button type="submit" form=CLOSE_FORM disabled=pending
                        on:click=move |ev| { ev.prevent_default(); cancel.run(()); }>"Cancel"</button>
                    // Without the page's code the server reads the key first, then asks again.
                    <button type="submit" class="primary" disabled=move || hydrated.get() && !ready()
                        aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Adding…" } else { "Add Key" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}

/// What the pasted key is, before it is added.
#[component]
fn KeyPreview(key: KeyInfo, duplicate: bool) -> impl IntoView {
    view! {
        <dl class="key-info preview" aria-label="Key to add">
            <dt>"Type"</dt>
            <dd data-field="type">{key.key_type().to_owned()}</dd>
            <dt>"Fingerprint"</dt>
            <dd data-field="fingerprint" class="mono">{key.fingerprint}</dd>
        </dl>
        {duplicate.then(|| view! {
            <p class="error" role="alert">"This key is already in your authorized_keys."</p>
        })}
    }
}
