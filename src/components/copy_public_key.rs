use leptos::html::Input;
use leptos::prelude::*;

use crate::clipboard;

/// "Copy public key": puts the public line on the clipboard; where the browser offers no
/// clipboard, shows the line selected for Ctrl+C. `name` tells the buttons of a list apart.
#[component]
pub fn CopyPublicKey(line: String, #[prop(optional)] name: Option<String>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let fallback = RwSignal::new(false);
    let field = NodeRef::<Input>::new();
    let to_copy = line.clone();
    let copy = move |_| clipboard::copy_in_background(to_copy.clone(), copied, fallback);
    Effect::new(move |_| {
        if let (true, Some(field)) = (fallback.get(), field.get()) {
            request_animation_frame(move || clipboard::select_input(&field));
        }
    });
    let label = name.map(|n| format!("Copy public key {n}"));

    view! {
        <button type="button" class="copy-public" on:click=copy aria-label=label>
            {move || if copied.get() { "✓ Public key copied" } else { "Copy Public Key" }}
        </button>
        <Show when=move || fallback.get()>
            <input class="mono public-line" readonly aria-label="Public key" node_ref=field
                prop:value=line.clone() on:copy=move |_| copied.set(true) />
        </Show>
    }
}
