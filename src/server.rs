//! The HTTP server: settings, login, state for server functions, and the router.

pub mod auth;
pub mod settings;

use std::io;
use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnErrorErr;
use leptos_axum::ResponseOptions;

use crate::app::{SSH_KEYS_PATH, shell};
use crate::error::AppError;
use crate::model::Account;
use crate::ssh::{self, KeyOptions, Tag};
use auth::Auth;
use settings::Settings;

/// What server functions need, provided to them as Leptos context.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The home directory whose `authorized_keys` is managed.
    pub home: PathBuf,
    /// The comment word of keyhatch's keys.
    pub tag: Tag,
    /// The options written before each new key.
    pub key_options: KeyOptions,
    /// Who the page acts for.
    pub account: Account,
    /// The account's uid, which must own what sshd reads.
    pub uid: u32,
    /// The largest `authorized_keys` keyhatch writes to.
    pub max_file_size: u64,
}

impl AppState {
    /// The account's `authorized_keys`, with the configured limits.
    pub fn store(&self) -> ssh::AuthorizedKeys {
        ssh::AuthorizedKeys::in_home(&self.home).with_max_size(self.max_file_size)
    }
}

/// The state of the request being served, or an error when called outside one.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        AppError::Request(ServerFnErrorErr::ServerError(
            "server state is missing".into(),
        ))
    })
}

/// Runs blocking domain work (file I/O, bcrypt) off the async threads and converts its error.
pub async fn blocking<T, F>(work: F) -> Result<T, AppError>
where
    F: FnOnce() -> Result<T, ssh::Error> + Send + 'static,
    T: Send + 'static,
{
    let result = tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Request(ServerFnErrorErr::ServerError(e.to_string())))?;
    result.map_err(AppError::from)
}

/// Sets the response's status from the error, so scripts see 4xx/5xx, and passes it on.
pub fn fail(error: AppError) -> AppError {
    if let Some(response) = use_context::<ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    error
}

/// A health problem as the browser sees it.
pub fn problem(problem: ssh::health::Problem) -> crate::model::Problem {
    crate::model::Problem {
        message: problem.message,
        fix: problem.fix.map(|fix| match fix {
            ssh::health::Fix::SshDirMode => crate::model::Fix::SshDirMode,
            ssh::health::Fix::FileMode => crate::model::Fix::FileMode,
        }),
    }
}

impl From<ssh::Error> for AppError {
    fn from(error: ssh::Error) -> Self {
        match error {
            ssh::Error::Store(e @ ssh::StoreError::KeyNotFound(_)) => Self::NotFound(e.to_string()),
            ssh::Error::Store(e @ ssh::StoreError::NotOurs(_)) => Self::Forbidden(e.to_string()),
            ssh::Error::Store(e) => Self::Storage(e.to_string()),
            ssh::Error::Keygen(e) => Self::Keygen(e.to_string()),
        }
    }
}

/// Binds the address, prints the login URL and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|e| bind_error(settings.addr, e))?;
    let addr = listener.local_addr()?;
    let auth = Auth::new(settings.token.clone(), addr.port());
    let state = AppState {
        home: settings.home.clone(),
        tag: settings.tag.clone(),
        key_options: settings.key_options.clone(),
        account: settings.account.clone(),
        uid: nix::unistd::getuid().as_raw(),
        max_file_size: settings.max_file_size,
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
        ssh::AuthorizedKeys::in_home(&settings.home)
            .path()
            .display(),
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
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
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
