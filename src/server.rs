//! The HTTP server: settings, login, and the router with its layers.

mod assets;
pub mod auth;
pub mod guard;
mod page;
pub mod peer;
pub mod runtime;
pub mod settings;
pub mod site;
mod site_start;

use std::io::{self, Write};
use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderName;
use axum::http::request::Parts;
use axum::middleware;
use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::api::backend::Backend;
use crate::api::context::AppState;
use crate::api::limits::KeysPerHour;
use crate::api::sent_forms::SentForms;
use crate::api::slow_pool::SlowPool;
use crate::app::{InlineStyle, SplitLoader, shell};
use crate::audit::Audit;
use crate::paths::SSH_KEYS_PATH;
use crate::ssh::AuthorizedKeys;
use auth::Auth;
use guard::Guard;
use peer::{Peer, TcpPeers, UnixPeers};
use runtime::LoginFiles;
use settings::{Listen, Settings};
use site::{Person, Site, UserMap};

/// How requests are tied to a person.
#[derive(Clone)]
pub enum Access {
    /// Local mode: the account keyhatch runs as, logged in with its token.
    Local(Auth),
    /// Site mode: whoever the site's login proxy names.
    Site(Site),
}

/// Binds the address or socket, says how to reach keyhatch (in local mode: prints the login
/// link and writes it to a private file), and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> io::Result<()> {
    let audit = match &settings.audit_log {
        Some(path) => Audit::to_file(path)
            .map_err(|e| annotate(e, &format!("cannot open the audit log {}", path.display())))?,
        None => Audit::to_stderr(),
    };
    let state = AppState {
        backend: match &settings.site {
            Some(_) => None,
            None => Some(Backend::Direct {
                store: local_store(&settings)?
                    .with_max_size(settings.max_file_size)
                    .with_lock_timeout(settings.lock_timeout)
                    .with_crash_at(settings.crash_at),
                uid: settings.uid,
            }),
        },
        keys_file: settings.keys_file.clone(),
        tag: settings.tag.clone(),
        key_options: settings.key_options.clone(),
        account: settings.account.clone(),
        audit: audit.clone(),
        max_file_size: settings.max_file_size,
        lock_timeout: settings.lock_timeout,
        max_keys: settings.site.as_ref().map(|s| s.max_keys),
        keys_per_hour: settings
            .site
            .as_ref()
            .map(|s| KeysPerHour::new(s.keys_per_hour)),
        seqera: settings.seqera.clone(),
        slow: SlowPool::for_this_machine()
            .map_err(|e| annotate(e, "cannot start the key-derivation threads"))?,
        sent_forms: SentForms::default(),
    };
    if settings.site.is_none() && !settings.home.is_dir() {
        eprintln!(
            "warning: home directory {} does not exist",
            settings.home.display()
        );
    }
    let site = match &settings.site {
        Some(site) => Some(Site {
            header: HeaderName::try_from(site.user_header.as_str()).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("user-header: {e}"))
            })?,
            proxy_uid: site.proxy.as_ref().map(|(_, uid)| *uid),
            trusted_proxies: site.trusted_proxies.clone().into(),
            user_map: UserMap::new(&site.user_map_match, site.user_map_lowercase)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?,
            min_uid: site.min_uid,
            max_uid: site.max_uid,
            overflow_uid: site.overflow_uid,
            allowed_group: site.allowed_group.clone(),
            logout_url: site.logout_url.clone(),
            audit: audit.clone(),
        }),
        None => None,
    };
    let guard = Guard {
        own_uid: settings.uid,
        // In site mode nobody is known yet when these layers refuse a request.
        account: match settings.site {
            Some(_) => "".into(),
            None => settings.account.user.as_str().into(),
        },
        allowed_hosts: settings.allowed_hosts.clone().into(),
        loopback_names: settings.site.is_none(),
        audit: audit.clone(),
        site: site.clone(),
    };
    let access = |cookie: String| match &site {
        Some(site) => Access::Site(site.clone()),
        None => Access::Local(Auth::new(
            settings.token.clone(),
            cookie,
            audit.clone(),
            &settings.account.user,
        )),
    };
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
            if settings.site.is_some() {
                site::keep_only_helper_capabilities()?;
            }
            let access = access(format!("keyhatch_session_{}", local.port()));
            let _files = announce(
                &settings,
                &access,
                &local.port().to_string(),
                &format!("http://{local}"),
                None,
            );
            tracing::info!(addr = %local, "listening");
            let app = router(settings.leptos.clone(), state, access, guard);
            axum::serve(
                TcpPeers(listener),
                app.into_make_service_with_connect_info::<Peer>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
        }
        Listen::Unix(path) => {
            let proxy_uid = settings
                .site
                .as_ref()
                .and_then(|s| s.proxy.as_ref())
                .map(|p| p.1);
            let listener = bind_unix(path, settings.uid, proxy_uid)?;
            if settings.site.is_some() {
                site::keep_only_helper_capabilities()?;
            }
            let access = access("keyhatch_session_unix".to_owned());
            let _files = announce(
                &settings,
                &access,
                "socket",
                "http://127.0.0.1:3000",
                Some(path),
            );
            tracing::info!(socket = %path.display(), "listening");
            let app = router(settings.leptos.clone(), state, access, guard);
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

/// The keys file local mode manages: the account's, where the settings say.
fn local_store(settings: &Settings) -> io::Result<AuthorizedKeys> {
    settings
        .keys_file
        .of(&settings.home, &settings.account.user)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "authorized-keys-file {:?} leaves the home for {}",
                    settings.keys_file.as_str(),
                    settings.account.user
                ),
            )
        })
}

/// Prints what keyhatch serves and how to reach it. In local mode that is the login link,
/// also written with the script header to private files (a batch job's output is often
/// readable by others), which last as long as the returned value.
fn announce(
    settings: &Settings,
    access: &Access,
    name: &str,
    base: &str,
    socket: Option<&Path>,
) -> Option<LoginFiles> {
    let auth = match access {
        Access::Local(auth) => auth,
        Access::Site(site) => {
            let at = socket.map_or_else(|| base.to_owned(), |p| p.display().to_string());
            let (lines, warnings) = settings.site.as_ref().map_or_else(Default::default, |s| {
                site_start::describe(s, &settings.listen)
            });
            let _ = writeln!(
                io::stdout().lock(),
                "keyhatch {} (site mode) serves every account with uid {} or more through the login proxy on {at}\n{}",
                env!("CARGO_PKG_VERSION"),
                site.min_uid,
                lines.join("\n"),
            );
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            return None;
        }
    };
    let link = format!("{base}/?token={}", auth.token());
    let forward = socket.map_or_else(String::new, |path| {
        format!(
            "keyhatch listens on the socket {path}. From your laptop, forward it:\n\n    ssh -L 3000:{path} NODE\n\nthen ",
            path = path.display()
        )
    });
    // The files first: whoever reads the link from the output may look for them at once.
    let files = LoginFiles::write(settings.uid, name, &link, auth.token());
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
        local_store(settings).map_or_else(
            |_| settings.home.display().to_string(),
            |s| s.path().display().to_string()
        ),
    );
    files.ok()
}

/// Binds a Unix socket at `path` that only this account can connect to: a stale socket left by
/// a keyhatch that died is replaced, a live one is not.
/// In site mode the socket is given to the proxy's account (`proxy_uid`), still 0600.
fn bind_unix(
    path: &Path,
    uid: u32,
    proxy_uid: Option<u32>,
) -> io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        if dir == runtime::dir_path(uid) {
            runtime::ensure_private_dir(dir, uid)?;
        } else if proxy_uid.is_some() && !dir.exists() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let bind_error = |e: io::Error| {
        let hint = bind_hint(&e, true);
        annotate(e, &format!("cannot listen on {}{hint}", path.display()))
    };
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(bind_error(io::ErrorKind::AddrInUse.into()));
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
    let listener = bound.map_err(bind_error)?;
    if let Some(proxy_uid) = proxy_uid {
        std::os::unix::fs::chown(path, Some(proxy_uid), None)?;
    }
    Ok(listener)
}

/// The whole app: the page and server functions behind the layers that guard them, and
/// `/healthz` for the proxy or a load balancer, open to all and telling nothing about anyone.
pub fn router(mut options: LeptosOptions, state: AppState, access: Access, guard: Guard) -> Router {
    // Resources spawn their loading on tokio while a page renders (already set is fine).
    let _ = any_spawner::Executor::init_tokio();
    let bundle = assets::Bundle::load(Path::new(&*options.site_root)).unwrap_or_else(|e| {
        tracing::warn!(
            "cannot read the browser bundle in {}: {e}",
            options.site_root
        );
        assets::Bundle::default()
    });
    if let Some(dir) = bundle.pkg_dir() {
        options.site_pkg_dir = dir.into();
    }
    let stylesheet = bundle.stylesheet().map(InlineStyle);
    let split_loader = bundle.split_loader().map(|url| SplitLoader(url.into()));
    let context = move || {
        if let Some(style) = &stylesheet {
            provide_context(style.clone());
        }
        if let Some(loader) = &split_loader {
            provide_context(loader.clone());
        }
        // In site mode the request names its person; their state works through their helper.
        let person =
            use_context::<Parts>().and_then(|parts| parts.extensions.get::<Person>().cloned());
        match person {
            Some(person) => provide_context(state.for_person(person.identity, person.account)),
            None => provide_context(state.clone()),
        }
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
    // The bundle from memory when `make install` embedded it; otherwise files under /pkg come
    // from beside the executable. Any other path: the app's "not found" page, with the header.
    let router =
        router
            .merge(bundle.routes())
            .fallback(leptos_axum::file_and_error_handler_with_context(
                context, shell,
            ));
    let router = match access {
        Access::Local(auth) => router
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
    Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .merge(app)
}

fn bind_error(what: &str, e: io::Error) -> io::Error {
    let hint = bind_hint(&e, false);
    annotate(e, &format!("cannot listen on {what}{hint}"))
}

/// What to do when a socket path (`socket`) or a TCP address cannot be bound.
fn bind_hint(e: &io::Error, socket: bool) -> &'static str {
    match e.kind() {
        io::ErrorKind::AddrInUse if socket => {
            " (a keyhatch is already serving on it: stop that one first, or give this one another path with --socket PATH)"
        }
        io::ErrorKind::AddrInUse => {
            " (another program, perhaps another person's keyhatch, uses it; pick another port with --addr 127.0.0.1:PORT, or port 0 for any free one)"
        }
        _ => "",
    }
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
