use leptos::prelude::*;

/// The days a key lasts: the lifetimes keyhatch offers, or `none` (shown as `none_text`).
#[component]
pub fn LifetimeSelect(
    lifetime: RwSignal<Option<u32>>,
    #[prop(into)] disabled: Signal<bool>,
    #[prop(into)] none_text: String,
) -> impl IntoView {
    view! {
        <label for="key-expiry">"Expires"</label>
        <select id="key-expiry" name="expires_in_days" disabled=disabled
            on:change=move |ev| lifetime.set(event_target_value(&ev).parse().ok())>
            <option value="" selected=move || lifetime.get().is_none()>{none_text}</option>
            {[30u32, 90, 365].map(|days| view! {
                <option value=days.to_string() selected=move || lifetime.get() == Some(days)>
                    {format!("In {days} days")}
                </option>
            })}
        </select>
    }
}
