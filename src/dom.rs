//! The rest of the browser keyhatch uses through web-sys: modal dialogs, focus, and saving a
//! file from memory. On the server these do nothing.

/// The element that has focus, to give it back later; `Send` so cleanups may hold it.
pub struct Focus(
    #[cfg(feature = "hydrate")] Option<send_wrapper::SendWrapper<web_sys::HtmlElement>>,
);

/// Remembers which element has focus now.
#[cfg(feature = "hydrate")]
pub fn focused() -> Focus {
    use wasm_bindgen::JsCast;
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    Focus(element.map(send_wrapper::SendWrapper::new))
}

/// Server build: nothing has focus.
#[cfg(not(feature = "hydrate"))]
pub fn focused() -> Focus {
    Focus()
}

impl Focus {
    /// Gives focus back to the remembered element; when it has left the page (the button that
    /// opened a dialog may be gone), to the first element matching `fallback`.
    #[cfg(feature = "hydrate")]
    pub fn restore(self, fallback: &str) {
        use wasm_bindgen::JsCast;
        let Some(window) = web_sys::window() else {
            return;
        };
        // After the dialog's removal has been painted: the page may still be re-rendering.
        let fallback = fallback.to_owned();
        let element = self.0.map(send_wrapper::SendWrapper::take);
        let cb = wasm_bindgen::closure::Closure::once_into_js(move || {
            let target = element.filter(|e| e.is_connected()).or_else(|| {
                web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.query_selector(&fallback).ok().flatten())
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            });
            if let Some(target) = target {
                let _ = target.focus();
            }
        });
        let _ = window.request_animation_frame(cb.unchecked_ref());
    }

    /// Server build: nothing to restore.
    #[cfg(not(feature = "hydrate"))]
    pub fn restore(self, _fallback: &str) {}
}

/// Shows `dialog` as a modal: the page behind is inert until it closes.
#[cfg(feature = "hydrate")]
pub fn show_modal(dialog: &web_sys::HtmlDialogElement) {
    if !dialog.open() {
        let _ = dialog.show_modal();
    }
}

/// Server build: nothing to show.
#[cfg(not(feature = "hydrate"))]
pub fn show_modal<T>(_dialog: &T) {}

/// Shows `dialog` again if the browser closed it while it is still on the page.
#[cfg(feature = "hydrate")]
pub fn reopen_if_closed(dialog: &web_sys::HtmlDialogElement) {
    if dialog.is_connected() {
        show_modal(dialog);
    }
}

/// Server build: nothing to show.
#[cfg(not(feature = "hydrate"))]
pub fn reopen_if_closed<T>(_dialog: &T) {}

/// Saves `text` as a file named `name` from memory: a Blob and a link clicked, no request.
#[cfg(feature = "hydrate")]
pub fn save_file(name: &str, text: &str) -> Result<(), Unavailable> {
    use wasm_bindgen::JsCast;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or(Unavailable)?;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|_| Unavailable)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| Unavailable)?;
    let link = document
        .create_element("a")
        .ok()
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        .ok_or(Unavailable)?;
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // Once the browser has fetched the blob, let it go: the URL would keep the key in memory
    // until the page closes.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    let window = web_sys::window().ok_or(Unavailable)?;
    let _ =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 1000);
    Ok(())
}

/// Server build: nothing to save.
#[cfg(not(feature = "hydrate"))]
pub fn save_file(_name: &str, _text: &str) -> Result<(), Unavailable> {
    Err(Unavailable)
}

/// The browser would not do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// Reads the first file chosen in `input`, if it is small enough to be a public key.
#[cfg(feature = "hydrate")]
pub async fn read_chosen_file(
    input: &web_sys::HtmlInputElement,
    max: f64,
) -> Result<Option<String>, FileError> {
    let Some(file) = input.files().and_then(|f| f.get(0)) else {
        return Ok(None);
    };
    if file.size() > max {
        return Err(FileError::TooLarge);
    }
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .map_err(|_| FileError::Unreadable)?;
    Ok(text.as_string())
}

/// Server build: no file is chosen.
#[cfg(not(feature = "hydrate"))]
pub async fn read_chosen_file<T>(_input: &T, _max: f64) -> Result<Option<String>, FileError> {
    Ok(None)
}

/// Why a chosen file was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileError {
    /// Larger than any public key.
    TooLarge,
    /// The browser could not read it.
    Unreadable,
}

/// Milliseconds since a fixed moment, to tell a burst of presses from a second thought; 0 on
/// the server, where nothing is pressed.
#[cfg(feature = "hydrate")]
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds since a fixed moment, to tell a burst of presses from a second thought; 0 on
/// the server, where nothing is pressed.
#[cfg(not(feature = "hydrate"))]
pub fn now_ms() -> f64 {
    0.0
}
