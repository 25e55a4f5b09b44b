use leptos::prelude::*;

use crate::hydration::use_hydrated;

/// The "+ New Key" button; it needs the page's code, so it is disabled until hydration.
#[component]
pub fn NewKeyButton(on_click: Callback<()>) -> impl IntoView {
    let hydrated = use_hydrated();
    view! {
        <button class="primary" on:click=move |_| on_click.run(()) disabled=move || !hydrated.get()>
            "+ New Key"
        </button>
    }
}
