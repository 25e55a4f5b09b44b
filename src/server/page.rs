//! The plain pages the server answers without the app (log in, logged out, refused), and the
//! SSH Keys page's answer to its own forms.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use leptos::prelude::{LeptosOptions, Owner, provide_context, use_context};
use leptos::reactive::computed::ScopedFuture;
use leptos_axum::ResponseOptions;
use std::sync::PoisonError;

use super::plain::{Part, PlainPage, content_type_is};
use crate::api::form::{self, Answered, Posted};
use crate::app::shell;

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
    if !content_type_is(request.headers(), "application/x-www-form-urlencoded") {
        let page = PlainPage::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported request",
            "Unsupported request",
        )
        .para(&[
            Part::Text("The SSH Keys page takes its own forms. Scripts use "),
            Part::Code("/api/"),
            Part::Text(" with JSON."),
        ]);
        return answer_unread(request, page.answer()).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
        return PlainPage::new(StatusCode::PAYLOAD_TOO_LARGE, "Too large", "Too large")
            .para(&[Part::Text(
                "That form is larger than any key. Nothing was changed.",
            )])
            .answer();
    };
    let posted: Posted = match serde_urlencoded::from_bytes(&bytes) {
        Ok(posted) => posted,
        Err(e) => {
            // Names what is wrong: an intent keyhatch has no form for, a missing field.
            let why = format!("That form could not be read: {e}. Nothing was changed.");
            return PlainPage::new(StatusCode::BAD_REQUEST, "Bad request", "Bad request")
                .para(&[Part::Text(&why)])
                .answer();
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
