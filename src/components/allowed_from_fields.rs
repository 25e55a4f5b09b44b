use leptos::html::Select;
use leptos::prelude::*;

use crate::model::FromList;

/// The site's lists of addresses, for the dialogs' "Allow logins only from" (the page provides
/// them from the list it read).
#[derive(Clone, Copy)]
pub struct FromLists(pub Signal<Vec<FromList>>);

/// Where a key may log in from, as chosen in a dialog: `anywhere` (for a change: unchanged),
/// one of the site's lists by name, or `custom` and the patterns typed.
#[derive(Clone, Copy)]
pub struct FromChoice {
    /// The option chosen.
    pub choice: RwSignal<String>,
    /// The patterns typed for `custom`.
    pub custom: RwSignal<String>,
}

impl FromChoice {
    /// Chosen as a form that came back held it.
    pub fn new(choice: &str, custom: &str) -> Self {
        let choice = if choice.is_empty() {
            "anywhere"
        } else {
            choice
        };
        Self {
            choice: RwSignal::new(choice.to_owned()),
            custom: RwSignal::new(custom.to_owned()),
        }
    }

    /// What to send the server: a list's name, the patterns typed, or `None` for anywhere.
    pub fn to_send(self) -> Option<String> {
        let chosen = match self.choice.get_untracked().as_str() {
            "anywhere" => return None,
            "custom" => self.custom.get_untracked(),
            name => name.to_owned(),
        };
        (!chosen.trim().is_empty()).then_some(chosen)
    }

    /// Whether the patterns typed name hosts, which sshd matches only when it looks names up.
    fn names_hosts(self) -> bool {
        self.choice.with(|c| c == "custom")
            && self.custom.with(|typed| {
                typed
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .any(|word| {
                        word.contains(|c: char| c.is_ascii_alphabetic()) && !word.contains(':')
                    })
            })
    }
}

/// "Allow logins only from": anywhere (or, for a change, `unchanged`), one of the site's lists,
/// or addresses typed. The typed field shows only for "These addresses…" (by CSS, so also
/// without the page's code).
#[component]
pub fn AllowedFromFields(
    from: FromChoice,
    #[prop(into)] disabled: Signal<bool>,
    /// The first option's text: "Anywhere", or for a change "Unchanged".
    unchanged: &'static str,
    /// The choice's element, for a dialog that focuses it.
    #[prop(optional)]
    node_ref: NodeRef<Select>,
) -> impl IntoView {
    let lists = use_context::<FromLists>()
        .map(|lists| lists.0.get_untracked())
        .unwrap_or_default();
    let FromChoice { choice, custom } = from;
    let option = move |value: String, text: String| {
        let chosen = value.clone();
        view! {
            <option value=value selected=move || choice.with(|c| *c == chosen)>{text}</option>
        }
    };

    view! {
        <label for="key-from">"Allow logins only from"</label>
        <select id="key-from" name="allowed_from" disabled=disabled node_ref=node_ref
            on:change=move |ev| choice.set(event_target_value(&ev))>
            {option("anywhere".into(), unchanged.into())}
            {lists.into_iter().map(|list| option(list.name.clone(), format!("{} ({})", list.name, list.patterns))).collect_view()}
            {option("custom".into(), "These addresses…".into())}
        </select>
        <div class="from-custom">
            <label for="key-from-custom">"Addresses, networks or host names"</label>
            <input id="key-from-custom" name="allowed_from_custom" type="text" autocomplete="off"
                placeholder="10.1.0.0/16, 192.0.2.7, !10.1.0.9" disabled=disabled
                value=custom.get_untracked() prop:value=custom
                on:input=move |ev| custom.set(event_target_value(&ev)) aria-describedby="key-from-hint" />
            <p class="hint" id="key-from-hint">"Separated by commas or spaces; a ! before one keeps it out. sshd refuses the key from anywhere else."</p>
            <Show when=move || from.names_hosts()>
                <p class="field-warning" role="status">"Host names match only where sshd looks them up (UseDNS yes), which it does not by default: prefer addresses."</p>
            </Show>
        </div>
    }
    // Type-erased: nested in each dialog's view type, these fields made the server's rendering
    // deeper than a worker thread's stack (see `components::dialogs`).
    .into_any()
}
