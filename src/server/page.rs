//! The plain pages the server answers without the app: log in, logged out, refused.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use rand::rngs::OsRng;

use super::guard::csp;

/// A small self-contained HTML page: `title`, then `body` (already HTML), styled by an inline
/// stylesheet that only this answer's nonce lets apply.
pub fn plain_page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let nonce: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style nonce=\"{nonce}\">body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;\
         margin:4rem auto;padding:0 1rem;color:#1f2937}}code{{background:#f3f4f6;\
         padding:.1rem .3rem;border-radius:4px}}</style></head><body>{body}</body></html>"
    );
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(html))
        .unwrap_or_else(|_| status.into_response());
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, csp(Some(&nonce)));
    response
}

/// Gives `response` to `request`, after reading (and dropping) up to 64 KiB of its body. A
/// refusal sent before the body is read makes the server close the connection, which a client
/// that reuses it for its next request sees as an error.
pub async fn answer_unread(request: Request, response: Response) -> Response {
    let _ = axum::body::to_bytes(request.into_body(), 64 * 1024).await;
    response
}
