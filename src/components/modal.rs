use leptos::ev;
use leptos::prelude::*;

/// A modal dialog over a dimmed page, titled `title`; Esc asks `on_dismiss` to close it.
/// The content is typed, not boxed as `Children`: a boxed view costs the bundle far more.
#[component]
pub fn Modal<C>(
    title: &'static str,
    on_dismiss: Callback<()>,
    children: TypedChildren<C>,
) -> impl IntoView
where
    C: IntoView + 'static,
{
    let on_key = window_event_listener(ev::keydown, move |e| {
        if e.key() == "Escape" {
            on_dismiss.run(());
        }
    });
    on_cleanup(move || on_key.remove());
    // ASCII-only lowering: the titles are ASCII, and Unicode case tables cost the bundle 4 KB.
    let slug: String = title
        .chars()
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let title_id = format!("dialog-{slug}");
    let labelled_by = title_id.clone();

    view! {
        <div class="backdrop">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby=labelled_by>
                <h2 id=title_id>{title}</h2>
                {children.into_inner()()}
            </div>
        </div>
    }
}
