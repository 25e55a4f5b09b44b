//! The HTTP server: settings, login, and the router with its layers.

mod accept;
mod assets;
pub mod auth;
pub mod guard;
pub mod link;
mod page;
pub mod peer;
pub mod runtime;
pub mod settings;
pub mod site;
mod site_start;

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::api::backend::Backend;
use crate::api::context::AppState;
use crate::api::helper::Runner;
use crate::api::limits::KeysPerHour;
use crate::api::sent_forms::SentForms;
use crate::api::slow_pool::SlowPool;
use crate::app::{InlineStyle, SplitLoader, shell};
use crate::audit::Audit;
use crate::paths::SSH_KEYS_PATH;
use crate::ssh::AuthorizedKeys;
use accept::Gate;
use auth::Auth;
use guard::Guard;
use link::LinkSocket;
use peer::{TcpPeers, UnixPeers};
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

/// What keyhatch opens before it starts any thread: its listener and its audit log.
pub struct Opened {
    audit: Audit,
    listener: Listener,
}

/// A bound listener, not yet handed to the async runtime.
enum Listener {
    /// The address asked for, and on loopback its twin (see [`bind_tcp`]).
    Tcp(std::net::TcpListener, Option<std::net::TcpListener>),
    Unix(std::os::unix::net::UnixListener, std::path::PathBuf),
}

/// Opens the audit log and binds the address or socket (in site mode, giving the socket to the
/// proxy), then in site mode drops every capability but starting helpers'. Call it before any
/// thread starts: Linux keeps capabilities per thread, and only threads started after the drop
/// inherit the narrowed sets.
pub fn open(settings: &Settings) -> io::Result<Opened> {
    let audit = match &settings.audit_log {
        Some(path) => Audit::to_file(path)
            .map_err(|e| annotate(e, &format!("cannot open the audit log {}", path.display())))?,
        None => Audit::to_stderr(),
    };
    let listener = match &settings.listen {
        Listen::Tcp(addr) => {
            let (listener, twin) = bind_tcp(*addr)?;
            listener.set_nonblocking(true)?;
            if let Some(twin) = &twin {
                twin.set_nonblocking(true)?;
            }
            Listener::Tcp(listener, twin)
        }
        Listen::Unix(path) => {
            let proxy_uid = settings
                .site
                .as_ref()
                .and_then(|s| s.proxy.as_ref())
                .map(|p| p.1);
            Listener::Unix(bind_unix(path, settings.uid, proxy_uid)?, path.clone())
        }
    };
    if settings.site.is_some() {
        site::keep_only_helper_capabilities()?;
    }
    Ok(Opened { audit, listener })
}

/// Serves on what [`open`] opened, says how to reach keyhatch (in local mode: prints the login
/// link and writes it to a private file), and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings, opened: Opened) -> io::Result<()> {
    let Opened { audit, listener } = opened;
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
        helpers: settings
            .site
            .as_ref()
            .map(|s| Runner::new(s.helper_timeout, s.max_in_flight)),
        keys_per_hour: settings
            .site
            .as_ref()
            .map(|s| KeysPerHour::new(s.keys_per_hour)),
        seqera: settings.seqera.clone(),
        slow: SlowPool::for_this_machine()
            .map_err(|e| annotate(e, "cannot start the key-derivation threads"))?,
        sent_forms: SentForms::default(),
    };
    if settings.site.is_some() {
        // Every thread there is now (the runtime's, the key-derivation pool's) was started
        // after the drop; a thread that was not would serve requests with root's powers.
        site::check_every_thread_is_narrowed()?;
    }
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
    // Local mode closes another account's connection as soon as it is accepted.
    let gate = || {
        settings
            .site
            .is_none()
            .then(|| Gate::new(settings.uid, &settings.account.user, audit.clone()))
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
    match listener {
        Listener::Tcp(listener, twin) => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let twin = twin.map(tokio::net::TcpListener::from_std).transpose()?;
            let local = listener.local_addr()?;
            if !local.ip().is_loopback() {
                eprintln!(
                    "warning: listening on {local}, beyond this host: plain HTTP carries private keys; put TLS in front"
                );
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
            let peers = TcpPeers { listener, twin };
            accept::serve(peers, app, gate(), shutdown_signal()).await
        }
        Listener::Unix(listener, path) => {
            let (listener, path) = (tokio::net::UnixListener::from_std(listener)?, &*path);
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
            let served = accept::serve(UnixPeers(listener), app, gate(), shutdown_signal()).await;
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

/// Prints what keyhatch serves and how to reach it. In local mode that is a login link, also
/// written with the scripts' header to private files (a batch job's output is often readable
/// by others), and `keyhatch link` is answered for new links; both last as long as the returned
/// value.
fn announce(
    settings: &Settings,
    access: &Access,
    name: &str,
    base: &str,
    socket: Option<&Path>,
) -> Option<(Option<LoginFiles>, Option<LinkSocket>)> {
    let auth = match access {
        Access::Local(auth) => auth,
        Access::Site(site) => {
            let at = socket.map_or_else(|| base.to_owned(), |p| p.display().to_string());
            let (lines, warnings) = settings.site.as_ref().map_or_else(Default::default, |s| {
                site_start::describe(s, &settings.listen)
            });
            // Warnings first: the report on stdout is the last thing said before serving.
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            let _ = writeln!(
                io::stdout().lock(),
                "keyhatch {} (site mode) serves every account with uid {} or more through the login proxy on {at}\n{}",
                env!("CARGO_PKG_VERSION"),
                site.min_uid,
                lines.join("\n"),
            );
            return None;
        }
    };
    let link = format!("{base}/?token={}", auth.new_link());
    let forward = socket.map_or_else(String::new, |path| {
        format!(
            "keyhatch listens on the socket {path}. From your laptop, forward it:\n\n    ssh -L 3000:{path} NODE\n\nthen ",
            path = path.display()
        )
    });
    // The files first: whoever reads the link from the output may look for them at once.
    let files = LoginFiles::write(settings.uid, name, &link, auth.credential());
    let links = link::listen(settings.uid, name, base, auth.clone());
    let where_else = match &files {
        Ok(files) => format!(
            "The link is also in {} (readable only by you); scripts can send the header in {} with curl -H @FILE.\n",
            files.url.display(),
            files.header.display()
        ),
        Err(e) => format!("(could not write the login files: {e})\n"),
    };
    let again = match &links {
        Ok(_) => format!(
            "The link works once, within {} minutes; for another, run: keyhatch link\n",
            auth::LINK_LIFETIME.as_secs() / 60
        ),
        Err(e) => format!("(keyhatch link will not work: {e})\n"),
    };
    // One write, and no panic when nobody reads the output any more.
    let _ = writeln!(
        io::stdout().lock(),
        "keyhatch {} is managing {}\n{forward}Open this link in your browser to log in:\n\n    {link}\n\n{again}{where_else}",
        env!("CARGO_PKG_VERSION"),
        local_store(settings).map_or_else(
            |_| settings.home.display().to_string(),
            |s| s.path().display().to_string()
        ),
    );
    Some((files.ok(), links.ok()))
}

/// Binds `addr`, and on a loopback address also the other family's loopback on the same port:
/// browsers and `ssh -L` resolve `localhost` to `::1` first, and another account listening
/// there would receive the login link meant for keyhatch. With port 0, free ports are tried
/// until one is free on both; a host without IPv6 (or IPv4) loopback needs no twin.
fn bind_tcp(
    addr: SocketAddr,
) -> io::Result<(std::net::TcpListener, Option<std::net::TcpListener>)> {
    let bind = |at: SocketAddr| {
        std::net::TcpListener::bind(at).map_err(|e| bind_error(&at.to_string(), e))
    };
    if !addr.ip().is_loopback() {
        return Ok((bind(addr)?, None));
    }
    let twin_ip = match addr.ip() {
        IpAddr::V4(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    for _ in 0..32 {
        let listener = bind(addr)?;
        let port = listener.local_addr()?.port();
        let at = SocketAddr::new(twin_ip, port);
        match std::net::TcpListener::bind(at) {
            Ok(twin) => return Ok((listener, Some(twin))),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EADDRNOTAVAIL | nix::libc::EAFNOSUPPORT)
                ) =>
            {
                return Ok((listener, None));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && addr.port() == 0 => continue,
            Err(e) => {
                return Err(annotate(
                    e,
                    &format!(
                        "cannot also listen on {at}: another program holds it, and a browser opening localhost:{port} could reach that program instead of keyhatch (pick another port with --addr 127.0.0.1:PORT, or port 0 for any free one)"
                    ),
                ));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "cannot find a port free on both 127.0.0.1 and [::1]",
    ))
}

/// Binds a Unix socket at `path` that only this account can connect to: a stale socket left by
/// a keyhatch that died is replaced, a live one is not.
/// In site mode the socket is given to the proxy's account (`proxy_uid`), still 0600.
fn bind_unix(
    path: &Path,
    uid: u32,
    proxy_uid: Option<u32>,
) -> io::Result<std::os::unix::net::UnixListener> {
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
    let bound = std::os::unix::net::UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(bind_error)?;
    listener.set_nonblocking(true)?;
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
    let helpers = state.helpers.clone();
    let bundle = assets::Bundle::embedded();
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
                page::plain_page(
                    StatusCode::NOT_FOUND,
                    "Not found · keyhatch",
                    "<p>Not found.</p>",
                )
            } else {
                not_found(request).await
            }
        });
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
        .route(
            "/healthz",
            axum::routing::get(move || healthz(helpers.clone())),
        )
        .merge(app)
}

/// `/healthz`: `ok`; in site mode, 503 with what fails when helpers cannot be started or do not
/// finish (then nobody can be served).
async fn healthz(helpers: Option<Runner>) -> (StatusCode, String) {
    use axum::http::StatusCode;
    match helpers {
        Some(helpers) => match helpers.healthy().await {
            Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unhealthy: keyhatch cannot start or finish helpers: {e}\n"),
            ),
        },
        None => (StatusCode::OK, "ok\n".to_owned()),
    }
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
