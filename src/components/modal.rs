use leptos::html::Dialog;
use leptos::prelude::*;

use crate::dom;
use crate::paths::ssh_keys_url;

/// The form a dialog's Cancel or Close button submits without JavaScript: back to the page.
pub const CLOSE_FORM: &str = "close-dialog";

/// A modal dialog titled `title`: a native `<dialog>` shown with `showModal`, so the page
/// behind is inert and focus stays inside. Esc asks `on_dismiss` to close it; closing gives
/// focus back to what had it before (or to the first match of `return_focus` when that is
/// gone).
/// The content is typed, not boxed as `Children`: a boxed view costs the bundle far more.
#[component]
pub fn Modal<C>(
    title: &'static str,
    on_dismiss: Callback<()>,
    #[prop(default = ".page-head button")] return_focus: &'static str,
    children: TypedChildren<C>,
) -> impl IntoView
where
    C: IntoView + 'static,
{
    let dialog = NodeRef::<Dialog>::new();
    let opener = dom::focused();
    Effect::new(move |_| {
        if let Some(dialog) = dialog.get() {
            dom::show_modal(&dialog);
        }
    });
    on_cleanup(move || opener.restore(return_focus));
    // ASCII-only lowering: the titles are ASCII, and Unicode case tables cost the bundle 4 KB.
    let slug: String = title
        .chars()
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let title_id = format!("dialog-{slug}");
    let labelled_by = title_id.clone();
    // Esc: the dialog decides (the key dialog asks before losing the key). Should the browser
    // close it anyway (it does on a second Esc without a click between), the same question is
    // asked, and the dialog shown again if it is to stay.
    let cancel = move |ev: leptos::ev::Event| {
        ev.prevent_default();
        on_dismiss.run(());
    };
    let closed = move |_| {
        on_dismiss.run(());
        if let Some(dialog) = dialog.get_untracked() {
            request_animation_frame(move || dom::reopen_if_closed(&dialog));
        }
    };

    view! {
        <dialog class="dialog" aria-labelledby=labelled_by node_ref=dialog
            open=cfg!(not(feature = "hydrate")) on:cancel=cancel on:close=closed>
            <h2 id=title_id>{title}</h2>
            <form id=CLOSE_FORM method="get" action=ssh_keys_url()></form>
            {children.into_inner()()}
        </dialog>
    }
}
