//! The browser bundle embedded in the binary by `make install` (see `build.rs`), served from
//! memory; empty in other builds, which serve it from beside the executable.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;

/// The embedded files, by URL path (`/pkg/keyhatch.wasm`, `/favicon.svg`, …).
pub static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/embedded_site.rs"));

/// Routes that answer each embedded file, with its content type; no routes when none is
/// embedded.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    EMBEDDED
        .iter()
        .fold(Router::new(), |router, &(path, bytes)| {
            let kind = content_type(path);
            router.route(
                path,
                axum::routing::get(move || async move {
                    ([(header::CONTENT_TYPE, kind)], bytes).into_response()
                }),
            )
        })
}

/// The content type of a bundle file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        Some("ico") => "image/x-icon",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_files_get_their_content_types() {
        assert_eq!(content_type("/pkg/keyhatch.wasm"), "application/wasm");
        assert_eq!(
            content_type("/pkg/keyhatch.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("/favicon.svg"), "image/svg+xml");
    }
}
