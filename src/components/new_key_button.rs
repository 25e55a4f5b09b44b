use leptos::prelude::*;

use crate::hydration::use_hydrated;

/// A button of the page head that opens a dialog ("+ New Key", "Add existing key"); it needs
/// the page's code, so it is disabled until hydration.
#[component]
pub fn NewKeyButton(
    on_click: Callback<()>,
    #[prop(default = "+ New Key")] label: &'static str,
    #[prop(default = true)] primary: bool,
) -> impl IntoView {
    let hydrated = use_hydrated();
    view! {
        <button class:primary=primary on:click=move |_| on_click.run(()) disabled=move || !hydrated.get()>
            {label}
        </button>
    }
}
