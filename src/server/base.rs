//! keyhatch under a path (`public-url = "https://portal.example.org/keys/"`): each request's path
//! loses the base before routing, so the app inside is the same at any base; a request outside
//! the base is answered "not found" and reaches nothing else, `/healthz` included (it is
//! `/keys/healthz` then).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower::Layer;

use super::guard;
use super::page::answer_unread;
use super::plain::{Part, PlainPage};
use crate::paths::Base;

/// `app`, served under `base`: as it is at the root.
pub fn under(base: Base, app: Router) -> Router {
    if base.as_str().is_empty() {
        return app;
    }
    // Before routing, so the routes see the path without the base: a layer on `app` itself would
    // run once its route is chosen. The app's own layers add the security headers to its answers.
    let stripped = middleware::from_fn_with_state(base, strip).layer(app);
    Router::new().fallback_service(stripped)
}

/// Takes the base off the request's path, or answers "not found" outside it.
async fn strip(State(base): State<Base>, mut request: Request, next: Next) -> Response {
    let uri = request.uri();
    let inside = base.strip(uri.path()).and_then(|rest| {
        let path_and_query = match uri.query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.to_owned(),
        };
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(path_and_query.parse().ok()?);
        Uri::from_parts(parts).ok()
    });
    match inside {
        Some(uri) => {
            *request.uri_mut() = uri;
            next.run(request).await
        }
        None => {
            let home = base.join("/");
            let page = PlainPage::new(StatusCode::NOT_FOUND, "Not found", "Not found").para(&[
                Part::Text("keyhatch is at "),
                Part::Code(&home),
                Part::Text(" on this host, and answers nothing else."),
            ]);
            let mut answer = answer_unread(request, page.answer()).await;
            guard::add_security_headers(answer.headers_mut(), false);
            answer
        }
    }
}
