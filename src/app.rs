//! The HTML shell, the app and its routes.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::components::header::Header;
use crate::pages::not_found::NotFound;
use crate::pages::ssh_keys::SshKeysPage;

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Whether the page is live in the browser (hydrated); buttons that need code wait for it.
#[derive(Clone, Copy)]
pub struct Hydrated(pub ReadSignal<bool>);

/// The app: the header on every page, and the routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, so this marks the end of hydration (tests wait for it).
    Effect::new(move |_| hydrated.set(true));
    provide_context(Hydrated(hydrated.read_only()));

    view! {
        <Stylesheet id="leptos" href="/pkg/keyhatch.css" />
        <Title formatter=|page: String| format!("{page} · keyhatch") />
        <Router>
            <Header />
            <main data-hydrated=move || hydrated.get().then_some("true")>
                <Routes fallback=NotFound>
                    <Route path=path!("/ssh-keys") view=SshKeysPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
