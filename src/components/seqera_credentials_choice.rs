use leptos::prelude::*;

use crate::api::SeqeraSshCredentialsIn;
use crate::model::{Secret, SeqeraSshCredentials};

/// The SSH credentials of the chosen Platform workspace, read again whenever the workspace
/// changes, and the one picked (`chosen`) for a replacement key to go into.
#[component]
pub fn SeqeraCredentialsChoice(
    token: RwSignal<String>,
    workspace: RwSignal<Option<i64>>,
    chosen: RwSignal<Option<SeqeraSshCredentials>>,
) -> impl IntoView {
    let list = ServerAction::<SeqeraSshCredentialsIn>::new();
    let (listed, loading) = (list.value(), list.pending());
    Effect::new(move |_| {
        let workspace_id = workspace.get();
        chosen.set(None);
        list.dispatch(SeqeraSshCredentialsIn {
            token: Secret::new(token.get_untracked()),
            workspace_id,
        });
    });
    let found = move || listed.get().and_then(Result::ok).unwrap_or_default();
    // The first is picked until the person picks another.
    Effect::new(move |_| {
        if let Some(Ok(all)) = listed.get() {
            chosen.set(all.into_iter().next());
        }
    });
    let pick = move |ev| {
        let id = event_target_value(&ev);
        chosen.set(found().into_iter().find(|c| c.id == id));
    };

    view! {
        <label for="seqera-credentials">"SSH credentials to update"</label>
        <select id="seqera-credentials" on:change=pick disabled=loading>
            {move || found().into_iter().map(|c| {
                let id = c.id.clone();
                view! {
                    <option value=c.id.clone()
                        selected=move || chosen.with(|k| k.as_ref().is_some_and(|k| k.id == id))>
                        {format!("{} ({})", c.name, c.id)}
                    </option>
                }
            }).collect_view()}
        </select>
        {move || match listed.get() {
            Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
            Some(Ok(all)) if all.is_empty() => Some(view! {
                <p class="field-error" role="alert">
                    "This workspace holds no SSH credentials. Pick another, or close this and use Add to Seqera Platform on a new key."
                </p>
            }.into_any()),
            _ => None,
        }}
        <p class="hint">"Platform keeps their id and name, so the pipelines and compute environments that use them go on working with the new key."</p>
    }
}
