//! The page's six dialogs, as the page places them.
//!
//! On the server each is rendered in place, its type erased (`into_any`): the dialogs' nested
//! view types would make the rendering future deeper than a worker thread's stack.
//!
//! In the browser the dialogs' code is a wasm module of its own (`cargo leptos build --split`),
//! fetched when the person points at or focuses a button that opens one, or else when one
//! opens: a first visit downloads none of it. A dialog is never hydrated (a page with one open
//! is served without the page's code), so in the browser each is built and mounted by that
//! module, which keeps out of both modules the hydration code a view placed in the page carries.
//!
//! The Generate dialog and the "SSH Key Generated" dialog are in the same module, so the code
//! that shows a new private key is in the page before a key can be asked for: a key is never
//! made that the page could not show.

use leptos::prelude::*;

use crate::api::{AddKey, GenerateKey, RestrictKey, RevokeKey};
use crate::components::key_settings::Draft;
use crate::model::{GeneratedKey, KeyInfo};

/// "Generate SSH Key".
pub fn new_key(
    generate: ServerAction<GenerateKey>,
    on_cancel: Callback<()>,
    draft: Draft,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    return view! { <NewKeyDialog generate on_cancel draft /> }.into_any();
    #[cfg(not(feature = "ssr"))]
    browser::host(on_cancel, move |owner, host| {
        split::new_key(owner, host, generate, on_cancel, draft)
    })
}

/// "Add Existing Key".
pub fn add_key(
    add: ServerAction<AddKey>,
    present: Signal<Vec<String>>,
    on_cancel: Callback<()>,
    draft: Draft,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    return view! { <AddKeyDialog add present on_cancel draft /> }.into_any();
    #[cfg(not(feature = "ssr"))]
    browser::host(on_cancel, move |owner, host| {
        split::add_key(owner, host, add, present, on_cancel, draft)
    })
}

/// "Replace SSH Key".
pub fn replace_key(
    key: KeyInfo,
    generate: ServerAction<GenerateKey>,
    on_cancel: Callback<()>,
    draft: Draft,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    return view! { <ReplaceKeyDialog key generate on_cancel draft /> }.into_any();
    #[cfg(not(feature = "ssr"))]
    browser::host(on_cancel, move |owner, host| {
        split::replace_key(owner, host, key, generate, on_cancel, draft)
    })
}

/// "SSH Key Generated"; `on_revoked` runs when the key a replacement replaced is revoked there.
pub fn key_created(
    key: GeneratedKey,
    on_close: Callback<()>,
    on_revoked: Callback<()>,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    return view! { <KeyCreatedDialog key on_close on_revoked /> }.into_any();
    #[cfg(not(feature = "ssr"))]
    browser::host(on_close, move |owner, host| {
        split::key_created(owner, host, key, on_close, on_revoked)
    })
}

/// "Revoke SSH Key".
pub fn revoke(
    key: KeyInfo,
    revoke: ServerAction<RevokeKey>,
    on_close: Callback<()>,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    return view! { <RevokeDialog key revoke on_close /> }.into_any();
    #[cfg(not(feature = "ssr"))]
    browser::host(on_close, move |owner, host| {
        split::revoke(owner, host, key, revoke, on_close)
    })
}

/// "Restrict SSH Key".
pub fn restrict(
    key: KeyInfo,
    restrict: ServerAction<RestrictKey>,
    on_close: Callback<()>,
    draft: Draft,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    return view! { <RestrictDialog key restrict on_close draft /> }.into_any();
    #[cfg(not(feature = "ssr"))]
    browser::host(on_close, move |owner, host| {
        split::restrict(owner, host, key, restrict, on_close, draft)
    })
}

/// Starts fetching the dialogs' module, so that a dialog opens at once (a button that opens one
/// calls this when pointed at or focused). A failure shows, and is retried, when a dialog opens.
pub fn prefetch() {
    #[cfg(not(feature = "ssr"))]
    leptos::task::spawn_local(async {
        let _ = split::prefetch().await;
    });
}

#[cfg(feature = "ssr")]
use crate::components::{
    add_key_dialog::AddKeyDialog, key_created_dialog::KeyCreatedDialog,
    new_key_dialog::NewKeyDialog, replace_key_dialog::ReplaceKeyDialog,
    restrict_dialog::RestrictDialog, revoke_dialog::RevokeDialog,
};

/// Where a dialog is mounted in the browser, and the dialog once mounted.
#[cfg(not(feature = "ssr"))]
mod browser {
    use std::future::Future;

    use leptos::either::Either;
    use leptos::html::Div;
    use leptos::prelude::*;
    use leptos::tachys::view::Mountable;
    use web_sys::Element;

    use super::split::NotLoaded;

    /// A dialog built from the dialogs' module: unmounted, and its reactive owner cleaned up
    /// (which gives focus back), when dropped.
    pub struct Mounted {
        view: Box<dyn Mountable>,
        _owner: Owner,
    }

    impl Mounted {
        /// Builds `view` under `owner` and mounts it in `host`.
        pub fn new<V: IntoView + 'static>(
            owner: Owner,
            host: &Element,
            view: impl FnOnce() -> V,
        ) -> Self {
            let view = owner.with(|| {
                let mut built = view().into_view().build();
                built.mount(host, None);
                built
            });
            Self {
                view: Box::new(view),
                _owner: owner,
            }
        }
    }

    impl Drop for Mounted {
        fn drop(&mut self) {
            self.view.unmount();
        }
    }

    /// How far the dialog is.
    #[derive(Clone, Copy, PartialEq)]
    enum Status {
        Opening,
        Shown,
        NotLoaded,
    }

    /// A place for a dialog, which `mount` fills once the dialogs' module is in: "Opening…"
    /// until then, or what went wrong and a button that closes (`close`), so that opening the
    /// dialog again tries again.
    pub fn host<F>(
        close: Callback<()>,
        mount: impl FnOnce(Owner, Element) -> F + 'static,
    ) -> impl IntoView
    where
        F: Future<Output = Result<Mounted, NotLoaded>> + 'static,
    {
        let node = NodeRef::<Div>::new();
        let status = RwSignal::new(Status::Opening);
        let owner = Owner::new();
        let mounted = StoredValue::new_local(None::<Mounted>);
        let mut mount = Some(mount);
        Effect::new(move |_| {
            // Taken once the place is in the page, never before.
            let Some(host) = node.get() else { return };
            let Some(mount) = mount.take() else { return };
            let owner = owner.clone();
            leptos::task::spawn_local(async move {
                match mount(owner, host.into()).await {
                    Ok(dialog) => {
                        // Closed while loading: the dialog is dropped here, unmounted.
                        if mounted.try_set_value(Some(dialog)).is_none() {
                            status.set(Status::Shown);
                        }
                    }
                    Err(NotLoaded) => status.set(Status::NotLoaded),
                }
            });
        });
        on_cleanup(move || drop(mounted.try_update_value(Option::take)));

        view! {
            <div class="dialog-host">
                <div node_ref=node></div>
                {move || match status.get() {
                    Status::Opening => Some(Either::Left(view! {
                        <p class="opening" role="status">"Opening…"</p>
                    })),
                    Status::NotLoaded => Some(Either::Right(view! {
                        <div class="opening error" role="alert">
                            <p>"This dialog could not be loaded. Check your connection, or reload the page in case your sign-in has ended, then try again."</p>
                            <button type="button" on:click=move |_| close.run(())>"Close"</button>
                        </div>
                    })),
                    Status::Shown => None,
                }}
            </div>
        }
    }
}

/// The split points: each function's body, and what only it uses, is moved into the dialogs'
/// module.
#[cfg(not(feature = "ssr"))]
mod split {
    use leptos::prelude::*;
    use leptos::wasm_split::{SplitLoaderError, wasm_split};
    use web_sys::Element;

    use super::browser::Mounted;
    use crate::api::{AddKey, GenerateKey, RestrictKey, RevokeKey};
    use crate::components::add_key_dialog::AddKeyDialog;
    use crate::components::key_created_dialog::KeyCreatedDialog;
    use crate::components::key_settings::Draft;
    use crate::components::new_key_dialog::NewKeyDialog;
    use crate::components::replace_key_dialog::ReplaceKeyDialog;
    use crate::components::restrict_dialog::RestrictDialog;
    use crate::components::revoke_dialog::RevokeDialog;
    use crate::model::{GeneratedKey, KeyInfo};

    /// The dialogs' module could not be fetched (the cause is in the browser's console).
    pub struct NotLoaded;

    impl From<SplitLoaderError> for NotLoaded {
        fn from(_: SplitLoaderError) -> Self {
            Self
        }
    }

    #[wasm_split(dialogs, wasm_split_path = ::leptos::wasm_split, fallible, preload(prefetch))]
    pub fn new_key(
        owner: Owner,
        host: Element,
        generate: ServerAction<GenerateKey>,
        on_cancel: Callback<()>,
        draft: Draft,
    ) -> Result<Mounted, NotLoaded> {
        Ok(Mounted::new(owner, &host, move || {
            view! { <NewKeyDialog generate on_cancel draft /> }
        }))
    }

    #[wasm_split(dialogs, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn replace_key(
        owner: Owner,
        host: Element,
        key: KeyInfo,
        generate: ServerAction<GenerateKey>,
        on_cancel: Callback<()>,
        draft: Draft,
    ) -> Result<Mounted, NotLoaded> {
        Ok(Mounted::new(owner, &host, move || {
            view! { <ReplaceKeyDialog key generate on_cancel draft /> }
        }))
    }

    #[wasm_split(dialogs, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn key_created(
        owner: Owner,
        host: Element,
        key: GeneratedKey,
        on_close: Callback<()>,
        on_revoked: Callback<()>,
    ) -> Result<Mounted, NotLoaded> {
        Ok(Mounted::new(owner, &host, move || {
            view! { <KeyCreatedDialog key on_close on_revoked /> }
        }))
    }

    #[wasm_split(dialogs, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn add_key(
        owner: Owner,
        host: Element,
        add: ServerAction<AddKey>,
        present: Signal<Vec<String>>,
        on_cancel: Callback<()>,
        draft: Draft,
    ) -> Result<Mounted, NotLoaded> {
        Ok(Mounted::new(owner, &host, move || {
            view! { <AddKeyDialog add present on_cancel draft /> }
        }))
    }

    #[wasm_split(dialogs, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn revoke(
        owner: Owner,
        host: Element,
        key: KeyInfo,
        revoke: ServerAction<RevokeKey>,
        on_close: Callback<()>,
    ) -> Result<Mounted, NotLoaded> {
        Ok(Mounted::new(owner, &host, move || {
            view! { <RevokeDialog key revoke on_close /> }
        }))
    }

    #[wasm_split(dialogs, wasm_split_path = ::leptos::wasm_split, fallible)]
    pub fn restrict(
        owner: Owner,
        host: Element,
        key: KeyInfo,
        restrict: ServerAction<RestrictKey>,
        on_close: Callback<()>,
        draft: Draft,
    ) -> Result<Mounted, NotLoaded> {
        Ok(Mounted::new(owner, &host, move || {
            view! { <RestrictDialog key restrict on_close draft /> }
        }))
    }
}
