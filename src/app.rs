//! The HTML shell and the app.
//!
//! keyhatch is one page, so there is no client-side router: the server answers each path with
//! the app, which picks the page from the path, and links are plain page loads. The title and
//! stylesheet are written by the server too. (A router and a head manager would cost the browser
//! bundle about a fifth of its size.)

use leptos::either::Either;
use leptos::nonce::use_nonce;
use leptos::prelude::*;

use crate::components::bundle_scripts::BundleScripts;
use crate::components::header::Header;
use crate::hydration::provide_hydrated;
use crate::pages::not_found::NotFound;
use crate::pages::ssh_keys::SshKeysPage;
use crate::paths::Base;

/// The document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let base = Base::current();
    let root = base.as_str().to_owned();
    let page = Page::current();
    let title = match page {
        Page::SshKeys => "SSH Keys · keyhatch",
        Page::NotFound => "Not found · keyhatch",
    };
    view! {
        <!DOCTYPE html>
        <html lang="en" data-base=base.as_str().to_owned() data-page=page.name()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href=base.join("/favicon.svg") type="image/svg+xml" />
                <title>{title}</title>
                <Stylesheet />
                {Page::hydrates().then(|| view! { <BundleScripts options root /> <SplitLoaderPreload /> })}
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The stylesheet's text, when the server has it: the page inlines it, so the first paint waits
/// for no second request (it is a few kilobytes, and the page is the only one).
#[derive(Clone, Debug)]
pub struct InlineStyle(pub std::sync::Arc<str>);

/// The URL of the loader of the dialogs' module (`components::dialogs`), when the bundle is
/// split. The page's JS imports it, so it is fetched beside that JS rather than after it.
#[derive(Clone, Debug)]
pub struct SplitLoader(pub std::sync::Arc<str>);

/// A `modulepreload` of the dialogs' module's loader, when there is one.
#[component]
fn SplitLoaderPreload() -> impl IntoView {
    use_context::<SplitLoader>()
        .map(|loader| view! { <link rel="modulepreload" href=Base::current().join(&loader.0) /> })
}

/// The stylesheet: inline, under the render's nonce, or else linked.
#[component]
fn Stylesheet() -> impl IntoView {
    let inline = use_context::<InlineStyle>().zip(use_nonce());
    match inline {
        Some((style, nonce)) => {
            Either::Left(view! { <style nonce=nonce inner_html=style.0.to_string()></style> })
        }
        None => Either::Right(
            view! { <link rel="stylesheet" href=Base::current().join("/pkg/keyhatch.css") /> },
        ),
    }
}

/// The pages there are: SSH Keys, and "not found" at any other path.
#[derive(Clone, Copy)]
enum Page {
    SshKeys,
    NotFound,
}

impl Page {
    /// The page at the URL being rendered: on the server the request's; in the browser the one
    /// the server rendered, as it wrote it into the document (a proxy in front may have
    /// normalised the path it passed on: `/keys/ssh%2Dkeys` reaches keyhatch as
    /// `/keys/ssh-keys`, while the address bar keeps what was typed).
    fn current() -> Self {
        #[cfg(feature = "ssr")]
        let path =
            use_context::<axum::http::request::Parts>().map(|parts| parts.uri.path().to_owned());
        #[cfg(feature = "ssr")]
        let ssh_keys = path.as_deref() == Some(crate::paths::SSH_KEYS_PATH);
        #[cfg(not(feature = "ssr"))]
        let ssh_keys = document()
            .document_element()
            .and_then(|html| html.get_attribute("data-page"))
            .is_some_and(|page| page == Self::SshKeys.name());
        if ssh_keys {
            Self::SshKeys
        } else {
            Self::NotFound
        }
    }

    /// The page's name in the document (`<html data-page>`).
    fn name(self) -> &'static str {
        match self {
            Self::SshKeys => "ssh-keys",
            Self::NotFound => "not-found",
        }
    }
}

impl Page {
    /// Whether the page's code runs on this answer. Not on the answer to a form posted without
    /// JavaScript, nor on a page asked for with a dialog open (`?dialog=`, `?revoke=`,
    /// `?restrict=`, `?replace=`): those are whole as the server renders them.
    fn hydrates() -> bool {
        #[cfg(feature = "ssr")]
        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            // Decoded as the page decodes it (`?%64ialog=add` opens the dialog too).
            let query = parts.uri.query().unwrap_or_default();
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            return parts.method != axum::http::Method::POST
                && !crate::api::form::asks_for_a_dialog(&pairs);
        }
        true
    }
}

/// The app: the header on every page, and the page at this URL.
#[component]
pub fn App() -> impl IntoView {
    // Tests wait for this mark of the end of hydration.
    let hydrated = provide_hydrated();

    view! {
        <Header />
        <main data-hydrated=move || hydrated.get().then_some("true")>
            {match Page::current() {
                Page::SshKeys => Either::Left(view! { <SshKeysPage /> }),
                Page::NotFound => Either::Right(view! { <NotFound /> }),
            }}
        </main>
    }
}
