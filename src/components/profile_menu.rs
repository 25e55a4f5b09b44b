use leptos::either::EitherOf3;
use leptos::ev;
use leptos::prelude::*;

use crate::model::Logout;
use crate::paths::{Base, LOGOUT_PATH, ssh_keys_url};

/// The person's name and icon; a click opens a menu that leads to SSH Keys or logs out: a form
/// post that ends keyhatch's session, or a link to the site's sign-out (site mode). Esc or a click outside closes it.
#[component]
pub fn ProfileMenu(name: String, logout: Logout) -> impl IntoView {
    let open = RwSignal::new(false);
    let on_key = window_event_listener(ev::keydown, move |e| {
        if e.key() == "Escape" {
            open.set(false);
        }
    });
    on_cleanup(move || on_key.remove());

    view! {
        <div class="profile">
            <button
                class="profile-button"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <PersonIcon />
                <span class="profile-name">{name}</span>
            </button>
            <Show when=move || open.get()>
                <div class="menu-backdrop" on:click=move |_| open.set(false)></div>
                <ul class="menu" role="menu">
                    <li role="none">
                        <a role="menuitem" href=ssh_keys_url() on:click=move |_| open.set(false)>
                            "SSH Keys"
                        </a>
                    </li>
                    {match logout.clone() {
                        Logout::Session => EitherOf3::A(view! {
                            <li role="none">
                                <form method="post" action=Base::current().join(LOGOUT_PATH)>
                                    <button type="submit" role="menuitem">"Log out"</button>
                                </form>
                            </li>
                        }),
                        Logout::Link(url) => EitherOf3::B(view! {
                            <li role="none">
                                <a role="menuitem" href=url>"Log out"</a>
                            </li>
                        }),
                        Logout::Hidden => EitherOf3::C(()),
                    }}
                </ul>
            </Show>
        </div>
    }
}

#[component]
fn PersonIcon() -> impl IntoView {
    view! {
        <svg class="avatar" viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">
            <circle cx="12" cy="12" r="12" fill="currentColor" opacity="0.15" />
            <circle cx="12" cy="9.5" r="4" fill="currentColor" />
            <path d="M4.5 19.5c1.6-3 4.3-4.5 7.5-4.5s5.9 1.5 7.5 4.5" fill="currentColor" />
        </svg>
    }
}
