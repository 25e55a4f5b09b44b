//! The whole app: the page, the server functions and the static files, behind the layers that
//! guard them and tie each request to its person; and `/healthz`.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::Response;
use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use super::access::Access;
use super::guard::{self, Guard};
use super::plain::{self, PlainPage};
use super::{assets, auth, base, page, site};
use crate::api::context::AppState;
use crate::api::person::Person;
use crate::app::{InlineStyle, SplitLoader, shell};
use crate::paths::{Base, SSH_KEYS_PATH};

/// The whole app: the page and server functions behind the layers that guard them, and
/// `/healthz` for the proxy or a load balancer, open to all and telling nothing about anyone;
/// all of it under `base`.
pub fn router(
    mut options: LeptosOptions,
    state: AppState,
    access: Access,
    guard: Guard,
    base: Base,
) -> Router {
    // Resources spawn their loading on tokio while a page renders (already set is fine).
    let _ = any_spawner::Executor::init_tokio();
    let health = access.clone();
    let bundle = assets::Bundle::embedded();
    if let Some(dir) = bundle.pkg_dir() {
        options.site_pkg_dir = dir.into();
    }
    let stylesheet = bundle.stylesheet().map(InlineStyle);
    let split_loader = bundle.split_loader().map(|url| SplitLoader(url.into()));
    let home = base.join(SSH_KEYS_PATH);
    let page_base = base.clone();
    let context = move || {
        provide_context(page_base.clone());
        if let Some(style) = &stylesheet {
            provide_context(style.clone());
        }
        if let Some(loader) = &split_loader {
            provide_context(loader.clone());
        }
        provide_context(state.clone());
        // The login layers name the request's person (see `Access`).
        if let Some(person) =
            use_context::<Parts>().and_then(|parts| parts.extensions.get::<Person>().cloned())
        {
            provide_context(person);
        }
        // A page render has a nonce for its inline scripts: the policy names it.
        if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) {
            response.insert_header(
                axum::http::header::CONTENT_SECURITY_POLICY,
                plain::csp(Some(&nonce.to_string())),
            );
        }
    };
    let mut router = Router::new()
        // A real redirect, not a page: it works without JavaScript and for scripts.
        .route(
            "/",
            axum::routing::get(move || async move { axum::response::Redirect::to(&home) }),
        )
        // Rendered once the key list is read, so the page is whole without JavaScript; its
        // forms post back to it.
        .route(
            SSH_KEYS_PATH,
            axum::routing::get(leptos_axum::render_app_async_with_context(
                context.clone(),
                {
                    let options = options.clone();
                    move || shell(options.clone())
                },
            ))
            .post({
                let (context, options) = (context.clone(), options.clone());
                move |request: Request| page::submit_form(request, context.clone(), options.clone())
            }),
        );
    for (path, method) in server_fn::axum::server_fn_paths() {
        let context = context.clone();
        let handler =
            move |request: Request| leptos_axum::handle_server_fns_with_context(context, request);
        router = router.route(
            path,
            axum::routing::on(
                method.try_into().expect("server functions use GET or POST"),
                handler,
            ),
        );
    }
    // The bundle's files are the only files served: read once at start (embedded by `make
    // install`, else from beside the executable). No path reaches the disk at request time, so
    // nothing planted there later is ever served on keyhatch's origin. Any other path: the
    // app's "not found" page, with the header; under /pkg/ a plain one (no account in it).
    let not_found = {
        let options = options.clone();
        leptos_axum::render_app_async_with_context(context, move || shell(options.clone()))
    };
    let router = router
        .merge(bundle.routes())
        .fallback(move |request: Request| async move {
            if guard::is_static(request.uri().path()) {
                PlainPage::new(StatusCode::NOT_FOUND, "Not found", "Not found").answer()
            } else {
                not_found(request).await
            }
        });
    let router = match access {
        Access::Local { auth, person } => router
            .layer(middleware::from_fn_with_state(person, with_person))
            .layer(middleware::from_fn_with_state(auth, auth::require_login))
            .layer(middleware::from_fn_with_state(
                guard.clone(),
                guard::check_cross_site,
            ))
            .layer(middleware::from_fn_with_state(
                guard.clone(),
                guard::check_peer,
            )),
        Access::Site(site) => router
            .layer(middleware::from_fn_with_state(site, site::require_person))
            .layer(middleware::from_fn_with_state(
                guard.clone(),
                guard::check_cross_site,
            )),
    };
    let app = router
        .layer(middleware::from_fn_with_state(guard, guard::check_host))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(options);
    let app = Router::new()
        .route(
            "/healthz",
            axum::routing::get(move || healthz(health.clone())),
        )
        .merge(app);
    base::under(base, app)
}

/// Middleware of local mode, inside the login: the request is for the one person.
async fn with_person(State(person): State<Person>, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(person);
    next.run(request).await
}

/// `/healthz`: `ok`; in site mode, 503 with what fails when helpers cannot be started or do not
/// finish (then nobody can be served).
async fn healthz(access: Access) -> (StatusCode, String) {
    match access.healthy().await {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: keyhatch cannot start or finish helpers: {e}\n"),
        ),
    }
}
