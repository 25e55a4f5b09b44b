use leptos::either::Either;
use leptos::prelude::*;

use crate::api::RevokeKey;
use crate::components::arming::Arming;
use crate::paths::ssh_keys_url;

/// "The old key" in the dialog that shows a replacement: the key it replaced still works, and
/// is revoked here once whatever used it has the new one. `moved_to` names the Platform
/// credentials that now hold the new key, once they do; `on_revoked` runs once the old key is
/// revoked (the page reads its lists again).
#[component]
pub fn ReplacedKeyNote(
    fingerprint: String,
    #[prop(into)] moved_to: Signal<Option<String>>,
    on_revoked: Callback<()>,
) -> impl IntoView {
    let revoke = ServerAction::<RevokeKey>::new();
    let (pending, result) = (revoke.pending(), revoke.value());
    Effect::new(move |_| {
        if let Some(Ok(())) = result.get() {
            on_revoked.run(());
        }
    });
    let old = fingerprint.clone();
    let arming = Arming::start();
    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if arming.take() && !pending.get_untracked() {
            revoke.dispatch(RevokeKey {
                fingerprint: old.clone(),
            });
        }
    };
    let advice = move || {
        match moved_to.get() {
        Some(name) => format!(
            "Seqera Platform's credentials {name} now hold the new key, so nothing there uses the old one: revoke it."
        ),
        None => "It still works. Put the new key wherever the old one was used (Seqera Platform's credentials, say), then revoke the old one.".to_owned(),
    }
    };

    view! {
        <section class="replaced" aria-labelledby="replaced-title">
            <h3 id="replaced-title">"The old key"</h3>
            <p class="mono" data-field="old-fingerprint">{fingerprint.clone()}</p>
            {move || match result.get() {
                Some(Ok(())) => Either::Left(view! {
                    <p class="notice" role="status">"The old key is revoked: sshd no longer accepts it."</p>
                }),
                done => Either::Right(view! {
                    <p>{advice}</p>
                    {done.and_then(Result::err).map(|e| view! {
                        <p class="error" role="alert"><strong>"The old key could not be revoked. "</strong>{e.to_string()}</p>
                    })}
                    <form method="post" action=ssh_keys_url() on:submit=confirm.clone()>
                        <input type="hidden" name="intent" value="revoke" />
                        <input type="hidden" name="fingerprint" value=fingerprint.clone() />
                        <button type="submit" class="danger" disabled=pending>
                            {move || if pending.get() { "Revoking…" } else { "Revoke the old key" }}
                        </button>
                    </form>
                }),
            }}
        </section>
    }
}
