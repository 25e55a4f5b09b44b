use leptos::prelude::*;

/// When a key stops working: "Expires 2027-03-01", or "Expired 2026-01-01" once sshd refuses it.
#[component]
pub fn ExpiryBadge(expires: Option<String>, expired: bool) -> impl IntoView {
    expires.map(|date| {
        let (class, text) = if expired {
            ("badge expired", format!("Expired {date}"))
        } else {
            ("badge", format!("Expires {date}"))
        };
        view! { <span class=class data-field="expires">{text}</span> }
    })
}
