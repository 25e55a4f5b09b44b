use leptos::nonce::use_nonce;
use leptos::prelude::*;

/// What starts the page's code, in the `<head>`: the bundle's JS and WebAssembly fetched at
/// once (`modulepreload`, `preload`), and a script that starts compiling the WebAssembly as
/// its bytes arrive, while the page is still parsed and painted, and hydrates the page once it
/// is parsed, with the module compiled by then. Leptos's `HydrationScripts` compiles it only
/// once the page has been parsed and its first frame laid out: 4–6 ms more before the page is
/// live (README, Performance). Without `WebAssembly.compileStreaming` the bytes are handed
/// over as before.
#[component]
pub fn BundleScripts(options: LeptosOptions, root: String) -> impl IntoView {
    let pkg = format!("{root}/{}", options.site_pkg_dir);
    let name = &options.output_name;
    let js = format!("{pkg}/{name}.js");
    // cargo-leptos names the WebAssembly `<name>_bg.wasm` unless the output name is set, as
    // `.cargo/config.toml` does.
    let suffix = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
        ""
    } else {
        "_bg"
    };
    let wasm = format!("{pkg}/{name}{suffix}.wasm");
    // The base and the hashed directory hold only URL-safe characters (`Base::parse`), so the
    // quoted strings need no escaping.
    let script = format!(
        "(() => {{\
           const wasm = {wasm:?};\
           const module = 'compileStreaming' in WebAssembly ? WebAssembly.compileStreaming(fetch(wasm)) : wasm;\
           document.addEventListener('DOMContentLoaded', () => import({js:?})\
             .then(async (app) => {{ await app.default({{ module_or_path: module }}); app.hydrate(); }}));\
         }})();"
    );
    let nonce = use_nonce();
    view! {
        <link rel="modulepreload" href=js />
        <link rel="preload" href=wasm.clone() r#as="fetch" r#type="application/wasm" crossorigin="anonymous" />
        <script nonce=nonce>{script}</script>
    }
}
