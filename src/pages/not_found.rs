use crate::paths::ssh_keys_url;
use leptos::prelude::*;

/// Any unknown path: says so, with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <p>"There is nothing here. " <a href=ssh_keys_url()>"Go to SSH Keys"</a></p>
        </section>
    }
}
