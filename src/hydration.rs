//! Whether the page is live in the browser: buttons that need code wait for hydration.

use leptos::prelude::*;

/// Whether the page is hydrated, shared with every component through context.
#[derive(Clone, Copy)]
struct Hydrated(ReadSignal<bool>);

/// Provides the hydration flag to the components below, and returns it. It turns true when the
/// first effect runs, which happens only in the browser, once hydration is done.
pub fn provide_hydrated() -> ReadSignal<bool> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    provide_context(Hydrated(hydrated.read_only()));
    hydrated.read_only()
}

/// The hydration flag provided by the app.
pub fn use_hydrated() -> ReadSignal<bool> {
    expect_context::<Hydrated>().0
}
