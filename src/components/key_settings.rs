use leptos::prelude::*;

use crate::components::allowed_from_fields::{AllowedFromFields, FromChoice};
use crate::components::lifetime_select::LifetimeSelect;

/// The longest label, as the server checks it.
pub const MAX_LABEL_CHARS: usize = 64;

/// What a dialog held when its form was posted without JavaScript and comes back (to confirm,
/// or with an error): never a passphrase, never a private key.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// The label typed.
    pub label: String,
    /// The lifetime chosen.
    pub lifetime: Option<u32>,
    /// Add: the public key pasted.
    pub public_key: String,
    /// Add: the key the server read from it, for the person to confirm.
    pub checked: Option<crate::model::KeyInfo>,
    /// "Allow logins only from": the option chosen.
    pub allowed_from: String,
    /// "Allow logins only from": the patterns typed.
    pub allowed_from_custom: String,
    /// Restrict: the new last day typed.
    pub expires_on: String,
}

/// What a new key is called and how long it lasts, as typed in a dialog.
#[derive(Clone, Copy)]
pub struct KeySettings {
    /// The label, as typed.
    pub label: RwSignal<String>,
    /// The lifetime in days, `None` for a key that never expires.
    pub lifetime: RwSignal<Option<u32>>,
    /// Where it may log in from.
    pub from: FromChoice,
}

impl Default for KeySettings {
    /// Empty: no label, no expiry.
    fn default() -> Self {
        Self {
            label: RwSignal::new(String::new()),
            lifetime: RwSignal::new(None),
            from: FromChoice::new("", ""),
        }
    }
}

impl KeySettings {
    /// Filled from a form that came back.
    pub fn from_draft(draft: &Draft) -> Self {
        Self {
            label: RwSignal::new(draft.label.clone()),
            lifetime: RwSignal::new(draft.lifetime),
            from: FromChoice::new(&draft.allowed_from, &draft.allowed_from_custom),
        }
    }

    /// What is wrong with the label, checked as the server will (which checks again).
    pub fn label_problem(self) -> Option<&'static str> {
        self.label.with(|l| {
            if l.chars().any(char::is_control) {
                Some("A label is one line of printable text.")
            } else if l.trim().chars().count() > MAX_LABEL_CHARS {
                Some("A label has at most 64 characters.")
            } else {
                None
            }
        })
    }

    /// The label to send: `None` when blank.
    pub fn label_to_send(self) -> Option<String> {
        let label = self.label.get_untracked();
        (!label.trim().is_empty()).then_some(label)
    }
}

/// The Label, Expires and "Allow logins only from" fields of the Generate and Add dialogs;
/// `placeholder` suggests a label.
#[component]
pub fn KeySettingsFields(
    settings: KeySettings,
    #[prop(into)] disabled: Signal<bool>,
    #[prop(into, default = Signal::stored("e.g. Seqera production".to_owned()))]
    placeholder: Signal<String>,
) -> impl IntoView {
    let KeySettings {
        label,
        lifetime,
        from,
    } = settings;

    view! {
        <label for="key-label">"Label (optional)"</label>
        <input id="key-label" name="label" type="text" autocomplete="off"
            placeholder=placeholder value=label.get_untracked() prop:value=label
            on:input=move |ev| label.set(event_target_value(&ev)) disabled=disabled
            aria-describedby="key-label-hint" />
        <p class="hint" id="key-label-hint">"Shown in the list and kept in the key's comment, after the tag."</p>
        {move || settings.label_problem().map(|p| view! {
            <p class="field-error" role="alert">{p}</p>
        })}
        <LifetimeSelect lifetime disabled none_text="Never" />
        <AllowedFromFields from disabled unchanged="Anywhere" />
    }
}
