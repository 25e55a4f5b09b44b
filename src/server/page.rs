//! The plain pages the server answers without the app (log in, logged out, refused), and the
//! SSH Keys page's answer to its own forms.

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::{LeptosOptions, Owner, provide_context, use_context};
use leptos::reactive::computed::ScopedFuture;
use leptos_axum::ResponseOptions;
use std::sync::PoisonError;

use crate::api::form::{self, Answered, Posted};
use crate::app::shell;
use crate::random::random_hex;

/// A small self-contained HTML page: `title`, then `body` (already HTML), styled by an inline
/// stylesheet that only this answer's nonce lets apply.
pub fn plain_page(status: StatusCode, title: &str, body: &str) -> Response {
    let nonce = random_hex::<16>();
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

/// The largest form the page reads: a public key and a label fit many times over.
const MAX_FORM: usize = 64 * 1024;

/// Answers a form posted to the SSH Keys page without JavaScript: the page, rendered once what
/// the form asked is done, showing its outcome (the new private key, once, among them).
pub async fn submit_form<C>(request: Request, context: C, options: LeptosOptions) -> Response
where
    C: Fn() + Clone + Send + Sync + 'static,
{
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        let page = plain_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported request",
            "<h1>Unsupported request</h1><p>The SSH Keys page takes its own forms. Scripts use \
             <code>/api/</code> with JSON.</p>",
        );
        return answer_unread(request, page).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
        return plain_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too large",
            "<h1>Too large</h1><p>That form is larger than any key. Nothing was changed.</p>",
        );
    };
    let posted: Posted = match serde_urlencoded::from_bytes(&bytes) {
        Ok(posted) => posted,
        Err(e) => {
            // Names what is wrong: an intent keyhatch has no form for, a missing field.
            let why = escape(&e.to_string());
            return plain_page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                &format!(
                    "<h1>Bad request</h1><p>That form could not be read: {why}. Nothing was \
                     changed.</p>"
                ),
            );
        }
    };
    let (answered, status) = answer_before_render(&parts, &context, posted).await;
    let request = Request::from_parts(parts, Body::empty());
    let render = leptos_axum::render_app_async_with_context(
        move || {
            context();
            if let (Some(status), Some(response)) = (status, use_context::<ResponseOptions>()) {
                response.set_status(status);
            }
            provide_context(answered.clone());
        },
        move || shell(options.clone()),
    );
    render(request).await
}

/// Does what `posted` asks, before and apart from the page's render, with what server functions
/// need (the request, the person's state) in context: the page then only shows the outcome,
/// read once as it is set up. Writing it into the page's signals while the page renders raced
/// the render's own reads of them on other threads, and a refused write (reactive_graph's
/// mapped signals give up when a reader holds the value) lost a new key's only showing.
/// Returns the outcome and the status the server functions set, if any.
async fn answer_before_render<C: Fn()>(
    parts: &Parts,
    context: &C,
    posted: Posted,
) -> (Answered, Option<StatusCode>) {
    // A root: never the child of whatever owner this worker thread last ran.
    let owner = Owner::new_root(None);
    let response = ResponseOptions::default();
    owner.with(|| {
        provide_context(parts.clone());
        provide_context(response.clone());
        context();
    });
    let answered = owner
        .with(|| ScopedFuture::new_untracked(form::answer(posted)))
        .await;
    owner.cleanup();
    let status = response
        .0
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .status;
    (answered, status)
}

/// The Content-Security-Policy: scripts and styles from keyhatch only, inline ones only with
/// `nonce`, WebAssembly allowed to compile, no plugins, frames, base or foreign forms.
pub fn csp(nonce: Option<&str>) -> HeaderValue {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'{nonce}; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// `s` safe to place in HTML text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
