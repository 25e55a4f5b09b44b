use leptos::prelude::*;

use crate::api::whoami;
use crate::components::profile_menu::ProfileMenu;
use crate::json::JsonText;
use crate::model::Logout;
use crate::paths::ssh_keys_url;

/// The bar on every page: the product name, and the person's profile menu on the right.
#[component]
pub fn Header() -> impl IntoView {
    let account = Resource::<_, JsonText>::new_with_options(|| (), |()| whoami(), false);
    view! {
        <header class="topbar">
            <a class="brand" href=ssh_keys_url()>"keyhatch"</a>
            <Suspense>
                {move || account.get().map(|result| {
                    let (name, logout) = result.map_or_else(
                        |_| ("Account".to_owned(), Logout::Hidden),
                        |a| (a.display_name, a.logout),
                    );
                    view! { <ProfileMenu name logout /> }
                })}
            </Suspense>
        </header>
    }
}
