//! keyhatch: generate an SSH key from a web page, authorize it, and copy it once.
//!
//! Imports run one way, each module using only those after it in this list:
//! `server` → `app` → `pages` → `components` → `api` → `clipboard`, `dom`, `hydration`, `paths`,
//! `model`, `error`, `audit` → `declared` → `seqera` → `metrics`, `random`, `sshd_log` → `ssh`. `ssh` is the domain (no web code,
//! server only); `seqera` talks to Seqera Platform; `metrics` counts for Prometheus; `random` makes every token; `declared` declares every setting once; `server` runs it
//! over HTTP; `api` holds the server functions; `app`, `pages` and `components` are the page,
//! rendered on the server and hydrated in the browser. `tests/it/layers.rs` checks the order.

// The page's view types nest deeply (dialogs in a transition in the page): erasing them with
// `into_any` would cost the browser bundle far more than the compiler's deeper look.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
#[cfg(feature = "ssr")]
pub mod audit;
pub mod clipboard;
pub mod components;
#[cfg(feature = "ssr")]
pub mod declared;
pub mod dom;
pub mod error;
pub mod hydration;
pub mod json;
#[cfg(feature = "ssr")]
pub mod metrics;
pub mod model;
pub mod pages;
pub mod paths;
#[cfg(feature = "ssr")]
pub mod random;
#[cfg(feature = "ssr")]
pub mod seqera;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod ssh;
#[cfg(feature = "ssr")]
pub mod sshd_log;
#[cfg(feature = "ssr")]
pub mod terminal;

/// The browser entry point: attaches the server-rendered page to the app.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Under a base (`/keys`), the server functions answer there too.
    let base = paths::Base::current();
    if !base.as_str().is_empty() {
        leptos::server_fn::client::set_server_url(base.as_str().to_owned().leak());
    }
    leptos::mount::hydrate_body(app::App);
}
