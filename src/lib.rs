//! keyhatch: generate an SSH key from a web page, authorize it, and copy it once.
//!
//! `ssh` is the domain (no web code); `server` runs it over HTTP; `api` holds the server
//! functions; `app`, `pages` and `components` are the page, rendered on the server and hydrated
//! in the browser.

pub mod api;
pub mod app;
pub mod clipboard;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod ssh;

/// The browser entry point: attaches the server-rendered page to the app.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
