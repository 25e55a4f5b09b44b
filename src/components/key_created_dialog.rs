use leptos::either::Either;
use leptos::prelude::*;

use crate::components::copy_button::CopyButton;
use crate::components::copy_public_key::CopyPublicKey;
use crate::components::modal::{CLOSE_FORM, Modal};
use crate::components::replaced_key_note::ReplacedKeyNote;
use crate::components::seqera_handoff::SeqeraHandoff;
use crate::dom;
use crate::hydration::use_hydrated;
use crate::model::GeneratedKey;

/// The file name a downloaded private key gets.
pub const DOWNLOAD_NAME: &str = "id_ed25519_keyhatch";

/// How long after being asked whether to close without the key a second close counts as meant:
/// a key pressed again sooner is part of the same burst. A click waits longer, for the cover over
/// the buttons (0.6 s, `style/main.css`).
const SECOND_THOUGHT_MS: f64 = 500.0;

/// "SSH Key Generated": the one chance to copy or download the private key, and what the key
/// is. Closing before either asks once more, since the key is then lost for good.
/// Without JavaScript (the server's answer to the form) the key is in a text area to select
/// and copy.
#[component]
pub fn KeyCreatedDialog(
    key: GeneratedKey,
    on_close: Callback<()>,
    /// Runs when the key a replacement replaced is revoked from this dialog.
    on_revoked: Callback<()>,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let downloaded = RwSignal::new(false);
    let kept = move || copied.get() || downloaded.get();
    let asked = RwSignal::new(false);
    let unconfirmed = move || asked.get() && !kept();
    // When closing without the key was last asked about: a second ask within a moment of it
    // (Enter or Esc pressed twice or held) is part of the same burst, and asks again (red team).
    let asked_at = StoredValue::new(None::<f64>);
    let close = Callback::new(move |()| {
        let now = dom::now_ms();
        let meant = asked_at
            .get_value()
            .is_some_and(|at| now - at >= SECOND_THOUGHT_MS);
        if copied.get_untracked() || downloaded.get_untracked() || meant {
            on_close.run(());
        } else {
            asked_at.set_value(Some(now));
            asked.set(true);
        }
    });
    let GeneratedKey {
        private_key,
        encrypted,
        info,
        seqera,
        replaces,
    } = key;
    // The Platform credentials that now hold the new key in place of the one it replaces.
    let moved_to = RwSignal::new(None::<String>);
    let moves = replaces.is_some().then_some(moved_to);
    let download_failed = RwSignal::new(false);
    let to_save = private_key.clone();
    let download = move |_| match dom::save_file(DOWNLOAD_NAME, &to_save) {
        Ok(()) => downloaded.set(true),
        Err(_) => download_failed.set(true),
    };
    let live = use_hydrated().get_untracked();
    // With the site's Platform and the page's code, the key can go there directly; otherwise
    // the guide's steps say how to take it by hand.
    let platform = match seqera.filter(|_| live) {
        Some(target) => Either::Left(view! {
            <SeqeraHandoff target private_key=private_key.clone() encrypted moved_to=moves />
        }),
        None => Either::Right(view! {
            <section class="seqera" aria-labelledby="seqera-title">
                <h3 id="seqera-title">"Using it in Seqera Platform"</h3>
                <ol class="steps">
                    <li>"Copy the private key."</li>
                    <li>"Log in to Seqera Platform."</li>
                    <li>"Open Your credentials, then Add credentials, then Provider: SSH."</li>
                    <li>"Paste the key, and its passphrase if it has one."</li>
                </ol>
            </section>
        }),
    };
    let keep = if live {
        Either::Left(view! {
            <div class="key-actions">
                <CopyButton text=private_key copied />
                <button type="button" on:click=download>
                    {move || if downloaded.get() { "✓ Downloaded" } else { "Download" }}
                </button>
                <CopyPublicKey line=info.public_key.clone() />
            </div>
        })
    } else {
        // No Download without the page's code: a link that held the key would be a URL, which
        // the browser keeps in its history and its list of downloads (red team).
        Either::Right(view! {
            <p>"Select the key below and copy it (Ctrl+C, or ⌘C on a Mac) into a file of your own, such as ~/.ssh/"{DOWNLOAD_NAME}"."</p>
            <textarea class="mono private-key" readonly rows="9" aria-label="Private key">{private_key}</textarea>
        })
    };

    let (key_type, comment) = (info.key_type().to_owned(), info.comment().to_owned());

    view! {
        <Modal title="SSH Key Generated" on_dismiss=close>
            <div class="warning" role="alert">
                <strong>"Copy your private key now."</strong>
                " It cannot be shown again: keyhatch does not keep it. Paste it somewhere safe, such as Seqera Platform's credentials, or download it, before you close this dialog."
            </div>
            {keep}
            <span class="copied" aria-live="polite">
                {move || downloaded.get().then(|| format!("Saved as {DOWNLOAD_NAME} in your downloads."))}
            </span>
            <Show when=move || download_failed.get()>
                <p class="error" role="alert">"This browser would not save the file: copy the key instead."</p>
            </Show>
            <section class="key-info" aria-labelledby="key-info-title">
                <h3 id="key-info-title">"Key Information"</h3>
                <dl>
                    <dt>"Type"</dt>
                    <dd data-field="type">{key_type}</dd>
                    <dt>"Fingerprint"</dt>
                    <dd data-field="fingerprint" class="mono">{info.fingerprint}</dd>
                    <dt>"Comment"</dt>
                    <dd data-field="comment">{comment}</dd>
                    {info.label.map(|label| view! {
                        <dt>"Label"</dt>
                        <dd data-field="label">{label}</dd>
                    })}
                    <dt>"Expires"</dt>
                    <dd data-field="expires">{info.expires.unwrap_or_else(|| "Never".to_owned())}</dd>
                    <dt>"Passphrase"</dt>
                    <dd data-field="passphrase">{if encrypted { "Yes" } else { "None" }}</dd>
                </dl>
            </section>
            {platform}
            {replaces.map(|fingerprint| view! { <ReplacedKeyNote fingerprint moved_to on_revoked /> })}
            <Show when=unconfirmed>
                <p class="error" role="alert">
                    "You have not copied or downloaded the private key. If you close now, it is lost and you will need a new key."
                </p>
            </Show>
            <div class="actions guarded">
                <button type="submit" form=CLOSE_FORM class=move || if unconfirmed() { "danger" } else { "primary" }
                    on:click=move |ev| { ev.prevent_default(); close.run(()); }>
                    {move || if unconfirmed() { "Close without copying" } else { "Close" }}
                </button>
            </div>
        </Modal>
    }
}
