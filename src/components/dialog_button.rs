use leptos::prelude::*;

/// The id of the page's one empty form that every [`DialogButton`] submits.
pub const FORM: &str = "open-dialog";

/// A button that opens a dialog ("+ New Key", "Add existing key", "Revoke"). With the page's
/// code it opens it in place; without (JavaScript off, or before hydration) it submits the
/// page's form [`FORM`], which asks the server for the page with that dialog open:
/// `?NAME=VALUE`. One form for every button rather than one each: a list of 50 keys has 150
/// such buttons, and their forms cost its first paint 4–8 ms (README, Performance). Pointed
/// at or focused, it calls `prefetch`, which fetches the dialog's code before it is needed.
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
    let open = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        on_click.run(());
    };
    let intent = move || {
        if let Some(prefetch) = prefetch {
            prefetch();
        }
    };
    view! {
        <button type="submit" form=FORM class=class name=name value=value aria-label=aria_label
            on:click=open on:pointerenter=move |_| intent() on:focus=move |_| intent()>
            {label}
        </button>
    }
}
