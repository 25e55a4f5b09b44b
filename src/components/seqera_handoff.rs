use leptos::either::Either;
use leptos::prelude::*;

use crate::api::{SeqeraAccountOf, SeqeraAddCredentials};
use crate::model::{Secret, SeqeraTarget};

/// The longest credentials name Platform accepts.
const MAX_NAME: usize = 100;

/// "Add to Seqera Platform": hands the new private key to Platform as SSH credentials through
/// keyhatch's server, so it never crosses by clipboard. The person pastes a Platform access
/// token (kept in this dialog only), picks a workspace, names the credentials and decides
/// whether Platform gets the passphrase. Cancelling sends nothing.
#[component]
pub fn SeqeraHandoff(target: SeqeraTarget, private_key: String, encrypted: bool) -> impl IntoView {
    let open = RwSignal::new(false);
    // Kept in the page's memory for this dialog only, as the key already is.
    let private_key = StoredValue::new(private_key);
    let web = StoredValue::new(target.web_url.clone());
    let token = RwSignal::new(String::new());
    let workspace = RwSignal::new(None::<i64>);
    let name = RwSignal::new(target.credentials_name.clone());
    let send_passphrase = RwSignal::new(false);
    let passphrase = RwSignal::new(String::new());
    let account = ServerAction::<SeqeraAccountOf>::new();
    let add = ServerAction::<SeqeraAddCredentials>::new();
    // Taken once: every `value()` or `pending()` call makes a new signal.
    let (account_answer, loading) = (account.value(), account.pending());
    let (added, adding) = (add.value(), add.pending());
    let name_problem = move || {
        name.with(|n| {
            if n.is_empty() {
                Some("Give the credentials a name.")
            } else if n.len() > MAX_NAME {
                Some("A credentials name has at most 100 characters.")
            } else if !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                Some("A credentials name has only letters, digits, - and _.")
            } else {
                None
            }
        })
    };
    let listed = move || account_answer.get().and_then(Result::ok);
    let load = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !token.with(|t| t.trim().is_empty()) {
            account.dispatch(SeqeraAccountOf {
                token: Secret::new(token.get_untracked()),
            });
        }
    };
    let send = move |_| {
        if name_problem().is_some() || adding.get_untracked() {
            return;
        }
        add.dispatch(SeqeraAddCredentials {
            token: Secret::new(token.get_untracked()),
            workspace_id: workspace.get_untracked(),
            name: name.get_untracked(),
            private_key: Secret::new(private_key.get_value()),
            passphrase: (encrypted && send_passphrase.get_untracked())
                .then(|| Secret::new(passphrase.get_untracked())),
        });
    };
    let page_of = move |id: Option<i64>| {
        let web = web.get_value();
        let user = listed().map(|a| a.user_name).unwrap_or_default();
        match id.and_then(|id| listed()?.workspaces.into_iter().find(|w| w.id == id)) {
            Some(w) => format!("{web}/orgs/{}/workspaces/{}/credentials", w.org, w.name),
            None => format!("{web}/user/{user}/credentials"),
        }
    };
    let cancel = move |_| {
        // Forget the token: it was kept for this dialog only.
        token.set(String::new());
        account_answer.set(None);
        added.set(None);
        open.set(false);
    };

    view! {
        <section class="seqera" aria-labelledby="seqera-title">
            <h3 id="seqera-title">"Seqera Platform"</h3>
            <Show when=move || !open.get()>
                <button type="button" on:click=move |_| open.set(true)>"Add to Seqera Platform"</button>
            </Show>
            <Show when=move || open.get()>
                {move || match added.get() {
                    Some(Ok(created)) => Either::Left(view! {
                        <p class="notice" role="status">
                            "Added to Seqera Platform as credentials " <code>{created.credentials_id}</code> ". "
                            <a href=page_of(workspace.get_untracked()) target="_blank" rel="noopener noreferrer">
                                "Open the credentials page"
                            </a>
                        </p>
                    }),
                    _ => Either::Right(view! {
                        <form class="seqera-token" on:submit=load>
                            <label for="seqera-token">"Platform access token"</label>
                            <input id="seqera-token" type="password" autocomplete="off"
                                bind:value=token aria-describedby="seqera-token-hint" />
                            <p class="hint" id="seqera-token-hint">
                                "Make one in Seqera Platform under Your tokens. keyhatch uses it for this only, and keeps it nowhere."
                            </p>
                            <button type="submit" disabled=loading>
                                {move || if loading.get() { "Loading…" } else { "Load workspaces" }}
                            </button>
                        </form>
                        {move || account_answer.get().and_then(Result::err).map(|e| view! {
                            <p class="error" role="alert">{e.to_string()}</p>
                        })}
                        <Show when=move || listed().is_some()>
                            <label for="seqera-workspace">"Workspace"</label>
                            <select id="seqera-workspace"
                                on:change=move |ev| workspace.set(event_target_value(&ev).parse().ok())>
                                <option value="">"Personal (your own credentials)"</option>
                                {move || listed().map(|a| a.workspaces.into_iter().map(|w| view! {
                                    <option value=w.id.to_string()>{format!("{} / {}", w.org, w.name)}</option>
                                }).collect_view())}
                            </select>
                            <label for="seqera-name">"Credentials name"</label>
                            <input id="seqera-name" type="text" autocomplete="off" bind:value=name />
                            {move || name_problem().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
                            {encrypted.then(|| view! {
                                <label class="check">
                                    <input type="checkbox" bind:checked=send_passphrase />
                                    " Give Platform the key's passphrase"
                                </label>
                                <Show when=move || send_passphrase.get()>
                                    <label for="seqera-passphrase">"Passphrase"</label>
                                    <input id="seqera-passphrase" type="password" autocomplete="off" bind:value=passphrase />
                                </Show>
                            })}
                            {move || added.get().and_then(Result::err).map(|e| view! {
                                <p class="error" role="alert">
                                    <strong>"Nothing was added. "</strong>{e.to_string()}
                                    " The key is still here to copy or download."
                                </p>
                            })}
                        </Show>
                        <div class="actions">
                            <button type="button" on:click=cancel>"Cancel"</button>
                            <Show when=move || listed().is_some()>
                                <button type="button" class="primary" on:click=send
                                    disabled=move || adding.get() || name_problem().is_some()>
                                    {move || if adding.get() { "Adding…" } else { "Add credentials" }}
                                </button>
                            </Show>
                        </div>
                    }),
                }}
            </Show>
        </section>
    }
}
