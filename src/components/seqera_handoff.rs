use leptos::either::Either;
use leptos::prelude::*;

use crate::api::{SeqeraAccountOf, SeqeraAddCredentials, SeqeraUpdateCredentials};
use crate::components::seqera_credentials_choice::SeqeraCredentialsChoice;
use crate::model::{Secret, SeqeraSshCredentials, SeqeraTarget};

/// The longest credentials name Platform accepts.
const MAX_NAME: usize = 100;

/// "Add to Seqera Platform": hands the new private key to Platform as SSH credentials through
/// keyhatch's server, so it never crosses by clipboard. The person pastes a Platform access
/// token (kept in this dialog only), picks a workspace, names the credentials and decides
/// whether Platform gets the passphrase. Cancelling sends nothing.
///
/// For a key that replaces another (`moved_to` given), "Update Seqera Platform" puts it into
/// SSH credentials Platform already holds instead, which keep their id and name; `moved_to`
/// then names them.
#[component]
pub fn SeqeraHandoff(
    target: SeqeraTarget,
    private_key: String,
    encrypted: bool,
    #[prop(optional_no_strip)] moved_to: Option<RwSignal<Option<String>>>,
) -> impl IntoView {
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
    let update = ServerAction::<SeqeraUpdateCredentials>::new();
    let (updated, updating) = (update.value(), update.pending());
    let chosen = RwSignal::new(None::<SeqeraSshCredentials>);
    let replacing = moved_to.is_some();
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
    let given_passphrase = move || {
        (encrypted && send_passphrase.get_untracked())
            .then(|| Secret::new(passphrase.get_untracked()))
    };
    let send = move |_| {
        if replacing {
            let Some(credentials) = chosen.get_untracked() else {
                return;
            };
            if !updating.get_untracked() {
                update.dispatch(SeqeraUpdateCredentials {
                    token: Secret::new(token.get_untracked()),
                    workspace_id: workspace.get_untracked(),
                    credentials_id: credentials.id,
                    name: credentials.name,
                    private_key: Secret::new(private_key.get_value()),
                    passphrase: given_passphrase(),
                    revoke_old: None,
                });
            }
            return;
        }
        if name_problem().is_some() || adding.get_untracked() {
            return;
        }
        add.dispatch(SeqeraAddCredentials {
            token: Secret::new(token.get_untracked()),
            workspace_id: workspace.get_untracked(),
            name: name.get_untracked(),
            private_key: Secret::new(private_key.get_value()),
            passphrase: given_passphrase(),
        });
    };
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(moved_to), Some(credentials)) =
            (updated.get(), moved_to, chosen.get_untracked())
        {
            moved_to.set(Some(credentials.name));
        }
    });
    let blocked = move || {
        if replacing {
            updating.get() || chosen.with(Option::is_none)
        } else {
            adding.get() || name_problem().is_some()
        }
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
        updated.set(None);
        open.set(false);
    };

    view! {
        <section class="seqera" aria-labelledby="seqera-title">
            <h3 id="seqera-title">"Seqera Platform"</h3>
            <Show when=move || !open.get()>
                <button type="button" on:click=move |_| open.set(true)>
                    {if replacing { "Update Seqera Platform" } else { "Add to Seqera Platform" }}
                </button>
            </Show>
            <Show when=move || open.get()>
                {move || match (added.get(), updated.get()) {
                    (Some(Ok(created)), _) => Either::Left(view! {
                        <p class="notice" role="status">
                            "Added to Seqera Platform as credentials " <code>{created.credentials_id}</code> ". "
                            <a href=page_of(workspace.get_untracked()) target="_blank" rel="noopener noreferrer">
                                "Open the credentials page"
                            </a>
                        </p>
                    }.into_any()),
                    (_, Some(Ok(done))) => Either::Left(view! {
                        <p class="notice" role="status">
                            "Seqera Platform's credentials " <code>{done.credentials_id}</code>
                            " now hold the new key, under the same id and name. "
                            <a href=page_of(workspace.get_untracked()) target="_blank" rel="noopener noreferrer">
                                "Open the credentials page"
                            </a>
                        </p>
                    }.into_any()),
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
                            {if replacing {
                                Either::Left(view! { <SeqeraCredentialsChoice token workspace chosen /> })
                            } else {
                                Either::Right(view! {
                                    <label for="seqera-name">"Credentials name"</label>
                                    <input id="seqera-name" type="text" autocomplete="off" bind:value=name />
                                    {move || name_problem().map(|p| view! { <p class="field-error" role="alert">{p}</p> })}
                                })
                            }}
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
                            {move || updated.get().and_then(Result::err).map(|e| view! {
                                <p class="error" role="alert">
                                    <strong>"Platform's credentials were not updated. "</strong>{e.to_string()}
                                    " Both keys are in your authorized_keys and both still work; nothing was revoked. The new key is still here to copy or download."
                                </p>
                            })}
                        </Show>
                        <div class="actions">
                            <button type="button" on:click=cancel>"Cancel"</button>
                            <Show when=move || listed().is_some()>
                                <button type="button" class="primary" on:click=send disabled=blocked>
                                    {move || match (replacing, adding.get() || updating.get()) {
                                        (false, false) => "Add credentials",
                                        (false, true) => "Adding…",
                                        (true, false) => "Update credentials",
                                        (true, true) => "Updating…",
                                    }}
                                </button>
                            </Show>
                        </div>
                    }),
                }}
            </Show>
        </section>
    }
}
