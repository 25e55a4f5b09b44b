use leptos::prelude::*;

use crate::app::Hydrated;

/// The "+ New Key" button; it needs the page's code, so it is disabled until hydration.
#[component]
pub fn NewKeyButton(on_click: Callback<()>) -> impl IntoView {
    let hydrated = expect_context::<Hydrated>().0;
    view! {
        <button class="primary" on:click=move |_| on_click.run(()) disabled=move || !hydrated.get()>
            "+ New Key"
        </button>
    }
}
