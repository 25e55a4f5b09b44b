//! The HTTP server: settings, login, and the router with its layers.

pub mod auth;
pub mod settings;

use std::io;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use leptos::prelude::*;

use crate::api::context::AppState;
use crate::app::shell;
use crate::paths::SSH_KEYS_PATH;
use crate::ssh::AuthorizedKeys;
use auth::Auth;
use settings::Settings;

/// Binds the address, prints the login URL and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|e| bind_error(settings.addr, e))?;
    let addr = listener.local_addr()?;
    let auth = Auth::new(settings.token.clone(), addr.port());
    let state = AppState {
        store: AuthorizedKeys::in_home(&settings.home)
            .with_max_size(settings.max_file_size)
            .with_crash_at(settings.crash_at),
        tag: settings.tag.clone(),
        key_options: settings.key_options.clone(),
        account: settings.account.clone(),
        uid: nix::unistd::getuid().as_raw(),
    };
    if !settings.home.is_dir() {
        eprintln!(
            "warning: home directory {} does not exist",
            settings.home.display()
        );
    }
    println!(
        "keyhatch {} is managing {}\nOpen this link in your browser to log in:\n\n    http://{addr}/?token={}\n",
        env!("CARGO_PKG_VERSION"),
        state.store.path().display(),
        auth.token(),
    );
    tracing::info!(%addr, home = %settings.home.display(), tag = state.tag.as_str(), "listening");
    axum::serve(listener, router(settings.leptos, state, auth))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// The whole app: the page and server functions behind the token check.
pub fn router(options: LeptosOptions, state: AppState, auth: Auth) -> Router {
    // Resources spawn their loading on tokio while a page renders (already set is fine).
    let _ = any_spawner::Executor::init_tokio();
    let context = move || provide_context(state.clone());
    let mut router = Router::new()
        // A real redirect, not a page: it works without JavaScript and for scripts.
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Redirect::to(SSH_KEYS_PATH) }),
        )
        // Rendered once the key list is read, so the page is whole without JavaScript.
        .route(
            SSH_KEYS_PATH,
            axum::routing::get(leptos_axum::render_app_async_with_context(
                context.clone(),
                {
                    let options = options.clone();
                    move || shell(options.clone())
                },
            )),
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
    router
        // Files under /pkg, and any other path: the app's "not found" page, with the header.
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(auth, auth::require_token))
        .with_state(options)
}

/// Headers on every response: nothing that carries a key is cached, nothing is framed.
async fn security_headers(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if is_api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn bind_error(addr: std::net::SocketAddr, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => {
            " (another program, perhaps another person's keyhatch, uses it; pick another port with --addr 127.0.0.1:PORT, or port 0 for any free one)"
        }
        _ => "",
    };
    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}{hint}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
