use leptos::ev;
use leptos::prelude::*;

/// A modal dialog over a dimmed page, titled `title`; Esc asks `on_dismiss` to close it.
#[component]
pub fn Modal(title: &'static str, on_dismiss: Callback<()>, children: Children) -> impl IntoView {
    let on_key = window_event_listener(ev::keydown, move |e| {
        if e.key() == "Escape" {
            on_dismiss.run(());
        }
    });
    on_cleanup(move || on_key.remove());
    let title_id = format!("dialog-{}", title.to_lowercase().replace(' ', "-"));
    let labelled_by = title_id.clone();

    view! {
        <div class="backdrop">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby=labelled_by>
                <h2 id=title_id>{title}</h2>
                {children()}
            </div>
        </div>
    }
}
