use leptos::prelude::*;

use crate::paths::ssh_keys_url;

/// A button that opens a dialog ("+ New Key", "Add existing key", "Revoke"). With the page's
/// code it opens it in place; without (JavaScript off, or before hydration) it is a plain form
/// that asks the server for the page with that dialog open: `?NAME=VALUE`. Pointed at or
/// focused, it calls `prefetch`, which fetches the dialog's code before it is needed.
#[component]
pub fn DialogButton(
    label: &'static str,
    on_click: Callback<()>,
    /// The query that opens the dialog on the server, e.g. `("dialog", "generate")`.
    query: (&'static str, String),
    #[prop(optional)] class: &'static str,
    #[prop(optional, into)] aria_label: Option<String>,
    #[prop(optional)] prefetch: Option<fn()>,
) -> impl IntoView {
    let (name, value) = query;
    let open = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        on_click.run(());
    };
    let intent = move || {
        if let Some(prefetch) = prefetch {
            prefetch();
        }
    };
    view! {
        <form class="inline" method="get" action=ssh_keys_url() on:submit=open
            on:pointerenter=move |_| intent() on:focusin=move |_| intent()>
            <button type="submit" class=class name=name value=value aria-label=aria_label>
                {label}
            </button>
        </form>
    }
}
