//! The browser clipboard, through web-sys. On the server these are never called.

/// The clipboard cannot be written from this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// Writes `text` to the clipboard in the background: `copied` turns true once it is there,
/// `refused` when the browser offers no clipboard, so the caller can show the text to copy by hand.
pub fn copy_in_background(
    text: String,
    copied: leptos::prelude::RwSignal<bool>,
    refused: leptos::prelude::RwSignal<bool>,
) {
    use leptos::prelude::Set;
    leptos::task::spawn_local(async move {
        match write_text(&text).await {
            Ok(()) => copied.set(true),
            Err(_) => refused.set(true),
        }
    });
}

/// Writes `text` with `navigator.clipboard.writeText`; fails where the API is missing (non-secure
/// origins) or the browser refuses.
#[cfg(feature = "hydrate")]
pub async fn write_text(text: &str) -> Result<(), Unavailable> {
    let window = web_sys::window().ok_or(Unavailable)?;
    if !window.is_secure_context() {
        return Err(Unavailable);
    }
    let clipboard = window.navigator().clipboard();
    if clipboard.is_undefined() {
        return Err(Unavailable);
    }
    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text))
        .await
        .map(drop)
        .map_err(|_| Unavailable)
}

/// Server build: there is no clipboard.
#[cfg(not(feature = "hydrate"))]
pub async fn write_text(_text: &str) -> Result<(), Unavailable> {
    Err(Unavailable)
}

/// Focuses `area` and selects all its text, ready for Ctrl+C.
#[cfg(feature = "hydrate")]
pub fn select(area: &web_sys::HtmlTextAreaElement) {
    let _ = area.focus();
    area.select();
}

/// Server build: nothing to select.
#[cfg(not(feature = "hydrate"))]
pub fn select<T>(_area: &T) {}

/// Focuses `field` and selects all its text, ready for Ctrl+C.
#[cfg(feature = "hydrate")]
pub fn select_input(field: &web_sys::HtmlInputElement) {
    let _ = field.focus();
    field.select();
}

/// Server build: nothing to select.
#[cfg(not(feature = "hydrate"))]
pub fn select_input<T>(_field: &T) {}
