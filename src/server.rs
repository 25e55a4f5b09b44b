//! The HTTP server: settings, login, and the router with its layers.

pub mod auth;
pub mod guard;
mod page;
pub mod peer;
pub mod runtime;
pub mod settings;

use std::io::{self, Write};
use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::middleware;
use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::api::context::AppState;
use crate::app::shell;
use crate::audit::Audit;
use crate::paths::SSH_KEYS_PATH;
use crate::ssh::AuthorizedKeys;
use auth::Auth;
use guard::Guard;
use peer::{Peer, TcpPeers, UnixPeers};
use runtime::LoginFiles;
use settings::{Listen, Settings};

/// Binds the address or socket, prints the login link (and writes it to a private file), and
/// serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> io::Result<()> {
    let audit = match &settings.audit_log {
        Some(path) => Audit::to_file(path)
            .map_err(|e| annotate(e, &format!("cannot open the audit log {}", path.display())))?,
        None => Audit::to_stderr(),
    };
    let state = AppState {
        store: AuthorizedKeys::in_home(&settings.home)
            .with_max_size(settings.max_file_size)
            .with_lock_timeout(settings.lock_timeout)
            .with_crash_at(settings.crash_at),
        tag: settings.tag.clone(),
        key_options: settings.key_options.clone(),
        account: settings.account.clone(),
        uid: settings.uid,
        audit: audit.clone(),
    };
    if !settings.home.is_dir() {
        eprintln!(
            "warning: home directory {} does not exist",
            settings.home.display()
        );
    }
    let guard = Guard {
        own_uid: settings.uid,
        account: settings.account.user.as_str().into(),
        allowed_hosts: settings.allowed_hosts.clone().into(),
        audit: audit.clone(),
    };
    let account = settings.account.user.clone();
    match &settings.listen {
        Listen::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| bind_error(&addr.to_string(), e))?;
            let local = listener.local_addr()?;
            if !local.ip().is_loopback() {
                eprintln!(
                    "warning: listening on {local}, beyond this host: plain HTTP carries private keys; put TLS in front"
                );
            }
            let auth = Auth::new(
                settings.token.clone(),
                format!("keyhatch_session_{}", local.port()),
                audit,
                &account,
            );
            let link = format!("http://{local}/?token={}", auth.token());
            let _files = announce(
                &settings,
                &state,
                &local.port().to_string(),
                &link,
                &auth,
                None,
            );
            tracing::info!(addr = %local, home = %settings.home.display(), "listening");
            let app = router(settings.leptos.clone(), state, auth, guard);
            axum::serve(
                TcpPeers(listener),
                app.into_make_service_with_connect_info::<Peer>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
        }
        Listen::Unix(path) => {
            let listener = bind_unix(path, settings.uid)?;
            let auth = Auth::new(
                settings.token.clone(),
                "keyhatch_session_unix".to_owned(),
                audit,
                &account,
            );
            let link = format!("http://127.0.0.1:3000/?token={}", auth.token());
            let _files = announce(&settings, &state, "socket", &link, &auth, Some(path));
            tracing::info!(socket = %path.display(), home = %settings.home.display(), "listening");
            let app = router(settings.leptos.clone(), state, auth, guard);
            let served = axum::serve(
                UnixPeers(listener),
                app.into_make_service_with_connect_info::<Peer>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await;
            let _ = std::fs::remove_file(path);
            served
        }
    }
}

/// Prints what keyhatch manages and the login link, and writes the link and the script header
/// to private files (a batch job's output is often readable by others). The files last as long
/// as the returned value.
fn announce(
    settings: &Settings,
    state: &AppState,
    name: &str,
    link: &str,
    auth: &Auth,
    socket: Option<&Path>,
) -> Option<LoginFiles> {
    let forward = socket.map_or_else(String::new, |path| {
        format!(
            "keyhatch listens on the socket {path}. From your laptop, forward it:\n\n    ssh -L 3000:{path} NODE\n\nthen ",
            path = path.display()
        )
    });
    // The files first: whoever reads the link from the output may look for them at once.
    let files = LoginFiles::write(settings.uid, name, link, auth.token());
    let where_else = match &files {
        Ok(files) => format!(
            "The link is also in {} (readable only by you); scripts can send the header in {} with curl -H @FILE.\n",
            files.url.display(),
            files.header.display()
        ),
        Err(e) => format!("(could not write the login files: {e})\n"),
    };
    // One write, and no panic when nobody reads the output any more.
    let _ = writeln!(
        io::stdout().lock(),
        "keyhatch {} is managing {}\n{forward}Open this link in your browser to log in:\n\n    {link}\n\n{where_else}",
        env!("CARGO_PKG_VERSION"),
        state.store.path().display(),
    );
    files.ok()
}

/// Binds a Unix socket at `path` that only this account can connect to: a stale socket left by
/// a keyhatch that died is replaced, a live one is not.
fn bind_unix(path: &Path, uid: u32) -> io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent()
        && dir == runtime::dir_path(uid)
    {
        runtime::ensure_private_dir(dir, uid)?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(bind_error(
            &path.display().to_string(),
            io::ErrorKind::AddrInUse.into(),
        ));
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_socket()
    }) {
        std::fs::remove_file(path)?;
    }
    // Created 0600 from the start: no moment when another account could connect.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = tokio::net::UnixListener::bind(path);
    nix::sys::stat::umask(old);
    bound.map_err(|e| bind_error(&path.display().to_string(), e))
}

/// The whole app: the page and server functions behind the layers that guard them.
pub fn router(options: LeptosOptions, state: AppState, auth: Auth, guard: Guard) -> Router {
    // Resources spawn their loading on tokio while a page renders (already set is fine).
    let _ = any_spawner::Executor::init_tokio();
    let context = move || {
        provide_context(state.clone());
        // A page render has a nonce for its inline scripts: the policy names it.
        if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) {
            response.insert_header(
                axum::http::header::CONTENT_SECURITY_POLICY,
                guard::csp(Some(&nonce.to_string())),
            );
        }
    };
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
        .layer(middleware::from_fn_with_state(auth, auth::require_login))
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            guard::check_cross_site,
        ))
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            guard::check_peer,
        ))
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            guard::check_host,
        ))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(options)
}

fn bind_error(what: &str, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => {
            " (another program, perhaps another person's keyhatch, uses it; pick another port with --addr 127.0.0.1:PORT, or port 0 for any free one)"
        }
        _ => "",
    };
    annotate(e, &format!("cannot listen on {what}{hint}"))
}

fn annotate(e: io::Error, context: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{context}: {e}"))
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
