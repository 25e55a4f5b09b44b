use leptos::html::{Button, Textarea};
use leptos::prelude::*;

use crate::clipboard;

/// "Copy Private Key": puts `text` on the clipboard and says so; where the browser offers no
/// clipboard (a non-secure origin, a denied permission) shows the text selected for Ctrl+C.
#[component]
pub fn CopyButton(text: String, copied: RwSignal<bool>) -> impl IntoView {
    let fallback = RwSignal::new(false);
    let area = NodeRef::<Textarea>::new();
    // The dialog opens on this button: copying is the one thing to do now.
    let button = NodeRef::<Button>::new();
    Effect::new(move |_| {
        if let Some(button) = button.get() {
            request_animation_frame(move || drop(button.focus()));
        }
    });
    let to_copy = text.clone();
    let copy = move |_| clipboard::copy_in_background(to_copy.clone(), copied, fallback);
    Effect::new(move |_| {
        if let (true, Some(area)) = (fallback.get(), area.get()) {
            // Wait a frame: the textarea must be in the document to take focus and a selection.
            request_animation_frame(move || clipboard::select(&area));
        }
    });

    view! {
        <div class="copy">
            <button class="primary" on:click=copy node_ref=button>
                {move || if copied.get() { "✓ Copied" } else { "Copy Private Key" }}
            </button>
            <span class="copied" role="status" aria-live="polite">
                {move || copied.get().then_some("Copied to the clipboard.")}
            </span>
            <Show when=move || fallback.get()>
                <p class="hint">
                    "This browser does not let keyhatch use the clipboard here. The key is selected below: press Ctrl+C (⌘C on a Mac) to copy it."
                </p>
                <textarea class="mono" readonly rows="9" aria-label="Private key" node_ref=area
                    on:copy=move |_| copied.set(true)>{text.clone()}</textarea>
            </Show>
        </div>
    }
}
