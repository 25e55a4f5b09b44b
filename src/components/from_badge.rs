use leptos::prelude::*;

/// Where a key may log in from, when not anywhere: "From 10.1.0.0/16".
#[component]
pub fn FromBadge(allowed_from: Option<String>) -> impl IntoView {
    allowed_from.map(|patterns| {
        let text = format!("From {}", patterns.replace(',', ", "));
        view! { <span class="badge from" data-field="allowed-from" title="sshd lets this key in only from these addresses">{text}</span> }
    })
}
