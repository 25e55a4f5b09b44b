//! The HTTP server: settings, login, and the router with its layers.
#![deny(missing_docs)]

mod accept;
pub mod access;
mod after_logout;
mod announce;
mod assets;
pub mod auth;
mod base;
mod bind;
pub mod guard;
pub mod link;
mod metrics;
mod page;
pub mod peer;
mod plain;
mod read_bound;
mod ready;
mod router;
pub mod runtime;
mod send_timeout;
pub mod settings;
pub mod site;
mod site_start;
mod socket_file;
pub mod stops;
mod walk;

use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::api::context::AppState;
use crate::api::sent_forms::SentForms;
use crate::api::slow_pool::SlowPool;
use crate::api::underway::{Underway, Unfinished};
use crate::audit::{Audit, Event};
use crate::paths::Base;
use crate::seqera::Platform;
pub use access::Access;
use bind::{bind_tcp, bind_unix};
use peer::{TcpPeers, UnixPeers};
pub use router::router;
use settings::{Listen, Settings, SiteSettings};
use stops::Stops;
use walk::annotate;

/// What keyhatch opens before it starts any thread: its listener and its audit log.
pub struct Opened {
    audit: Audit,
    listener: Listener,
    /// `metrics-addr`, and its listener when it could be bound at start.
    metrics: Option<(SocketAddr, Option<std::net::TcpListener>)>,
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
    let site = settings.site.as_ref();
    let audit = match &settings.audit_log {
        Some(path) => open_audit_log(path, site.is_none().then_some(settings.uid))?,
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
            let proxy_uid = site.and_then(SiteSettings::proxy_uid);
            let (listener, path) = bind_unix(path, settings.uid, proxy_uid)?;
            Listener::Unix(listener, path)
        }
    };
    // Bound before the capabilities go (a port below 1024 needs one, and only root can hold
    // one: then a failure stops keyhatch); a higher port another account holds must not keep
    // everyone's service from starting: it is tried again later (server/metrics.rs).
    let metrics = match settings.serving.metrics_addr {
        Some(addr) => match std::net::TcpListener::bind(addr) {
            Ok(listener) => Some((addr, Some(listener))),
            Err(e) if addr.port() < 1024 => {
                return Err(annotate(
                    e,
                    &format!("cannot listen for metrics on {addr} (metrics-addr)"),
                ));
            }
            Err(_) => Some((addr, None)),
        },
        None => None,
    };
    if site.is_some() {
        site::keep_only_helper_capabilities()?;
    }
    Ok(Opened {
        audit,
        listener,
        metrics,
    })
}

/// The audit log at `path`. In local mode (`uid`), only in directories that exist and that no
/// other account can change, as a `--socket` is: in `/tmp` another account could make the file
/// first, read the lines and add its own; and a missing directory, made before the look, was
/// made through another account's link, wherever it led (red team).
fn open_audit_log(path: &Path, uid: Option<u32>) -> io::Result<Audit> {
    if let Some(uid) = uid {
        walk::walk(path, uid, walk::Use::AuditLog)?;
    }
    Audit::to_file(path)
        .map_err(|e| annotate(e, &format!("cannot open the audit log {}", path.display())))
}

/// Serves on what [`open`] opened, says how to reach keyhatch (in local mode: prints the login
/// link and writes it to a private file), and serves until Ctrl-C or SIGTERM.
pub async fn serve(mut settings: Settings, opened: Opened) -> io::Result<()> {
    // Before any helper starts: a stop is for the server to make, letting them end.
    crate::api::helper::leave_stops_to_this_process();
    let Opened {
        audit,
        listener,
        metrics,
    } = opened;
    if let Some((addr, bound)) = metrics {
        tokio::spawn(metrics::serve(addr, bound, settings.uid));
    }
    let state = AppState {
        key_options: settings.keys.key_options.clone(),
        from_lists: settings.keys.from_lists.clone(),
        usage: match &settings.keys.sshd_log {
            Some(source) => Some(
                crate::sshd_log::start(source.clone())
                    .map_err(|e| annotate(e, "cannot start reading sshd's log"))?,
            ),
            None => None,
        },
        audit: audit.clone(),
        seqera: settings.seqera.clone(),
        key_derivation: SlowPool::for_this_machine()
            .map_err(|e| annotate(e, "cannot start the key-derivation threads"))?,
        sent_forms: SentForms::default(),
        underway: Underway::default(),
    };
    let underway = state.underway.clone();
    // In site mode SIGHUP reopens the audit log; in local mode it stops keyhatch, unless it was
    // started ignoring hangups (`nohup`), which main keeps.
    let stops_on_hangup = settings.site.is_none() && !hangup_is_ignored();
    // Not in local mode under nohup: the log would be opened again without the walk of its
    // directories a start makes (red team).
    if settings.site.is_some() {
        reopen_on_hangup(audit.clone())?;
    }
    count_ended_minutes(audit.clone());
    let cookie = match &listener {
        Listener::Tcp(listener, _) => format!("keyhatch_session_{}", listener.local_addr()?.port()),
        Listener::Unix(..) => "keyhatch_session_unix".to_owned(),
    };
    // The one place local or site mode is chosen.
    let access = Access::choose(&settings, &audit, cookie)?;
    let base = (settings.site.as_ref()).map_or_else(Base::default, |site| site.base.clone());
    // Local mode's links open an origin made for this start alone: whatever another account
    // served at 127.0.0.1 on this port before (a service worker, a script cached for good)
    // never reaches it (red team: a service worker left there took the next login link and
    // made a key for itself). Browsers send every `*.localhost` name to this computer.
    let origin = settings
        .site
        .is_none()
        .then(|| format!("k{}.localhost", crate::random::random_hex::<16>()));
    settings.allowed_hosts.extend(origin.clone());
    let guard = access.guard(&settings, &audit);
    let gate = access.gate(&settings, &audit);
    // Before anything is announced: a stop asked for from then on cleans up.
    let stopping = Stopping::watch(Stops::listen(stops_on_hangup), longest_change(&settings));
    let served = match listener {
        Listener::Tcp(listener, twin) => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let twin = twin.map(tokio::net::TcpListener::from_std).transpose()?;
            let local = listener.local_addr()?;
            if !local.ip().is_loopback() {
                eprintln!(
                    "warning: listening on {local}, beyond this host: plain HTTP carries private keys; put TLS in front"
                );
            }
            let at = match &origin {
                Some(host) if local.ip().is_loopback() => format!("http://{host}:{}", local.port()),
                _ => format!("http://{local}"),
            };
            let files = announce::announce(
                &settings,
                &access,
                &local.port().to_string(),
                &at,
                None,
                None,
            );
            tracing::info!(addr = %local, "listening");
            ready::notify_ready();
            let app = router(settings.leptos.clone(), state, access, guard, base);
            let peers = TcpPeers { listener, twin };
            accept::serve(peers, app, gate, closing(&stopping, files), stopping.now()).await
        }
        Listener::Unix(listener, path) => {
            let (listener, path) = (tokio::net::UnixListener::from_std(listener)?, &*path);
            // What the forward the announcement suggests opens on the laptop: its port 3000.
            let at = format!("http://{}:3000", origin.as_deref().unwrap_or("127.0.0.1"));
            // The default socket is made again after logind removed its directory.
            let in_runtime_dir =
                settings.site.is_none() && path.parent() == Some(&runtime::dir_path(settings.uid));
            let (again, bound_again) = tokio::sync::mpsc::unbounded_channel();
            let again = in_runtime_dir.then_some(again);
            let made = socket_file::identity(path);
            // A socket given with --socket is not made again, but its directory gone is said.
            if settings.site.is_none() && !in_runtime_dir {
                after_logout::watch_socket_dir(path);
            }
            let files = announce::announce(&settings, &access, "socket", &at, Some(path), again);
            tracing::info!(socket = %path.display(), "listening");
            ready::notify_ready();
            let app = router(settings.leptos.clone(), state, access, guard, base);
            let served = accept::serve(
                UnixPeers {
                    listener,
                    again: Some(bound_again),
                },
                app,
                gate,
                closing(&stopping, files),
                stopping.now(),
            )
            .await;
            // Its listener is closed now: removed if nothing else took the name meanwhile (the
            // default socket, which may have been bound again, removes itself).
            if !in_runtime_dir {
                socket_file::remove_if_stale(path, made);
            }
            served
        }
    };
    finish_changes(&underway, &audit, stopping.now()).await;
    // What the audit log's throttle counted and has not yet written is written at a stop too.
    audit.write_unwritten_at_stop();
    served
}

/// Ends once a stop is asked for, giving `announced` (local mode's login files and link
/// socket), which the accept loop drops as soon as it no longer listens: `keyhatch link` gave
/// out links to a port keyhatch no longer listened on, which another account could take while
/// the stop waited (red team).
fn closing<T>(stopping: &Stopping, announced: T) -> impl Future<Output = T> + use<T> {
    let asked = stopping.asked();
    async move {
        asked.await;
        announced
    }
}

/// The longest a change may take: a call to Seqera Platform, then a change in the person's
/// file (as long as its helper may take, or the wait for another program's lock).
fn longest_change(settings: &Settings) -> Duration {
    let platform = (settings.seqera.as_ref()).map_or(Duration::ZERO, Platform::timeout);
    let limits = &settings.limits;
    platform + Duration::from_secs(limits.helper_timeout.max(limits.lock_timeout) + 1)
}

/// Once the requests have ended, lets the changes under way (their clients gone) end and be
/// written in the audit log, until `give_up`; then no change starts, and each still being
/// made gets a line saying that its outcome is unknown.
async fn finish_changes(underway: &Underway, audit: &Audit, give_up: impl Future<Output = ()>) {
    let unknown = |change: Unfinished| {
        tracing::warn!(action = change.action, account = %change.account, "stopped before a change ended");
        audit.record(&Event {
            action: change.action,
            account: &change.account,
            remote: &change.remote,
            fingerprint: None,
            outcome: "unknown: keyhatch stopped before this change ended; look at the person's keys",
        });
    };
    underway.ended(give_up, unknown).await;
}

/// Where a stop is: asked for (the listener closes, and the requests and changes under way
/// may end), then given up on (at the bound, or at a second stop signal: what is left ends).
struct Stopping(tokio::sync::watch::Receiver<Phase>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Serving,
    Asked,
    Now,
}

impl Stopping {
    /// Follows `stops`: at the first, what is under way has `within` to end (systemd is told
    /// so, and a terminal after a second); at the next, or then, the stop is now.
    fn watch(mut stops: Stops, within: Duration) -> Self {
        let (phase, watched) = tokio::sync::watch::channel(Phase::Serving);
        tokio::spawn(async move {
            stops.next().await;
            let _ = phase.send(Phase::Asked);
            ready::notify_stopping(within);
            let say_so = async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                // Not eprintln: the terminal may be gone (a hangup), and a failed write must
                // not panic.
                let _ = writeln!(
                    io::stderr(),
                    "keyhatch: stopping once the requests and changes under way have ended (at most {} s; Ctrl-C or SIGTERM again stops at once)",
                    within.as_secs()
                );
                std::future::pending::<()>().await;
            };
            tokio::select! {
                () = tokio::time::sleep(within) => {}
                _ = stops.next() => {}
                () = say_so => {}
            }
            let _ = phase.send(Phase::Now);
        });
        Self(watched)
    }

    /// Ends once a stop is asked for.
    fn asked(&self) -> impl Future<Output = ()> + use<> {
        self.reached(Phase::Asked)
    }

    /// Ends once the stop is now: nothing more is waited for.
    fn now(&self) -> impl Future<Output = ()> + use<> {
        self.reached(Phase::Now)
    }

    fn reached(&self, phase: Phase) -> impl Future<Output = ()> + use<> {
        let mut watched = self.0.clone();
        // A phase reached, or no one left to say (the watch ended): either way, go on.
        async move {
            let _ = watched.wait_for(|now| *now >= phase).await;
        }
    }
}

/// Every few seconds, the audit log counts in a line what each throttled minute just over left
/// unwritten.
fn count_ended_minutes(audit: Audit) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            audit.write_ended_minutes();
        }
    });
}

/// The service's audit log is opened again on SIGHUP, which logrotate sends after moving it
/// (`deploy/keyhatch.logrotate`). Site mode only: in local mode, a hangup stops keyhatch as it
/// stops any program of a closed terminal.
fn reopen_on_hangup(audit: Audit) -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match audit.reopen() {
                Ok(()) => tracing::info!("SIGHUP: the audit log is open again"),
                Err(e) => tracing::warn!("SIGHUP: could not open the audit log again: {e}"),
            }
        }
    });
    Ok(())
}

/// Whether this process ignores SIGHUP, as `nohup` starts a program (its `SigIgn` mask).
pub fn hangup_is_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .filter_map(|line| line.strip_prefix("SigIgn:"))
            .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .any(|mask| mask & 1 == 1)
    })
}
