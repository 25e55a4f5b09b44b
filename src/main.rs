//! keyhatch's server: settings → state → router.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use keyhatch::server::settings::{Cli, Command, Settings};
use nix::sys::signal::SigHandler;

fn main() -> ExitCode {
    // A hangup while starting is held (blocked) until the mode is known: logrotate's SIGHUP as
    // the service restarts must not end site mode, which ignores it then and reopens its audit
    // log on one once serving; local mode stops on it, as a terminal's program (cleanly once
    // serving), and so do the other commands. Ignored here, one was lost: a terminal closed in
    // the first milliseconds left local mode serving (red team). Started by `nohup`, every
    // mode keeps ignoring it (local mode stopped on the logout nohup was there for: red team).
    block_hangup();
    let on_hangup = if keyhatch::server::hangup_is_ignored() {
        SigHandler::SigIgn
    } else {
        SigHandler::SigDfl
    };
    ignore_file_size_signal();
    close_inherited_on_exec();
    no_core_dumps();
    // A site-mode helper: it becomes one person and does one job, with no runtime and no log.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == keyhatch::api::helper::HELPER_ARG)
    {
        set_hangup(SigHandler::SigIgn);
        return keyhatch::api::helper::serve_one();
    }
    // Read once for --help, errors and the subcommand; the settings read the same arguments
    // again over the settings file's values.
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = Cli::parse_from(&args);
    match cli.command {
        Some(Command::Link { server }) => {
            set_hangup(on_hangup);
            return keyhatch::server::link::run(server.as_deref());
        }
        Some(Command::CheckConfig) => {
            set_hangup(on_hangup);
            return check_config(cli.config.as_deref(), &args);
        }
        Some(Command::Keys { command }) => {
            set_hangup(on_hangup);
            return match Settings::load(cli.config.as_deref(), &args) {
                Ok(settings) => keyhatch::terminal::run(command, &settings),
                Err(e) => {
                    eprintln!("keyhatch: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Some(Command::Admin { command }) => {
            set_hangup(on_hangup);
            return keyhatch::terminal::admin::run(command, cli.config.as_deref(), &args);
        }
        None => {}
    }
    keep_freed_memory();
    raise_open_files_limit();
    let log = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal.
        .with_ansi(std::io::stderr().is_terminal())
        // A log that cannot be written (full disk, file size limit) must not stop the server:
        // by default tracing reports it with eprintln!, which panics when stderr is what failed.
        .log_internal_errors(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "keyhatch=info,warn".into()),
        );
    // journald stamps each line itself.
    if stderr_is_journal() {
        log.without_time().init();
    } else {
        log.init();
    }
    let settings = match Settings::load(cli.config.as_deref(), &args) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("keyhatch: {e}");
            return ExitCode::from(2);
        }
    };
    set_hangup(match settings.site {
        None => on_hangup,
        Some(_) => SigHandler::SigIgn,
    });
    // Bound (and, in site mode, with every capability but the helpers' dropped) before the
    // runtime starts its threads, so they inherit the narrowed sets.
    let opened = match keyhatch::server::open(&settings) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("keyhatch: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Rendering the page with a dialog open nests deeply: a debug build overflowed tokio's
    // default 2 MiB once a dialog gained a field, and a stack overflow aborts the whole server
    // (every person's, in site mode). Stacks are reserved, not used, until touched.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("keyhatch: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The server is a task on a worker, not this thread's future: a connection its accept loop
    // spawns then waits in that worker's own queue and is served there as soon as the loop
    // waits again, instead of waking another thread (15-30 µs off a new connection's answer).
    let served =
        runtime.block_on(async { tokio::spawn(keyhatch::server::serve(settings, opened)).await });
    // What the server waited for at its stop has ended; what it chose not to wait for (a call
    // to Platform, told to stop at once) is not waited for here either.
    runtime.shutdown_background();
    match served {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("keyhatch: {e}");
            ExitCode::FAILURE
        }
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            eprintln!("keyhatch: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `keyhatch check-config`: the settings as keyhatch would start with them, or what is wrong.
/// Exit status 0 or 2, as a start with them would stop.
fn check_config(config: Option<&std::path::Path>, args: &[OsString]) -> ExitCode {
    match Settings::load(config, args) {
        Ok(settings) => {
            let file = settings.file.as_ref().map_or_else(
                || "no settings file".to_owned(),
                |f| f.display().to_string(),
            );
            let mode = if settings.site.is_some() {
                "site"
            } else {
                "local"
            };
            println!("keyhatch: the settings are good ({file}; {mode} mode)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keyhatch: {e}");
            ExitCode::from(2)
        }
    }
}

/// Whether standard error is journald's stream: systemd names it in `JOURNAL_STREAM` as
/// `device:inode`, which must still be what fd 2 is (a child may have redirected it).
fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stat) = rustix::fs::fstat(std::io::stderr()) else {
        return false;
    };
    stream.to_str() == Some(&format!("{}:{}", stat.st_dev, stat.st_ino))
}

/// Keeps up to 16 MiB of freed memory per allocator arena for the next request, rather than
/// handing it back to the kernel as glibc does by default once a request's large buffers are
/// freed (listing 10,000 keys uses a few MiB: the file, the list, the JSON). Given back, every
/// such request faulted its pages in afresh, 12% of its time. The cost: up to 16 MiB per arena
/// stays resident after a large request.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    #[cfg(target_env = "gnu")]
    {
        use nix::libc::{M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, mallopt};
        const KEEP: i32 = 16 << 20;
        // SAFETY: mallopt sets two of glibc's allocator parameters; it is called before any
        // other thread exists, and a parameter it refuses leaves the default in place.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, KEEP);
            mallopt(M_TRIM_THRESHOLD, KEEP);
        }
    }
}

/// A write past the file size limit (`ulimit -f`) sends SIGXFSZ, which by default kills the whole
/// server. Ignored, the write fails with EFBIG instead: that request gets a clear error, the file
/// is cut back to its previous size, and every other request goes on.
#[allow(unsafe_code)]
fn ignore_file_size_signal() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installs SIG_IGN, no handler code runs; nothing else in keyhatch uses SIGXFSZ.
    if let Err(e) = unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) } {
        eprintln!("warning: could not ignore SIGXFSZ: {e}");
    }
}

/// Sets what SIGHUP does, nothing (`SigIgn`) or stop (`SigDfl`), then lets it through: one
/// that came while it was blocked is taken now, as `handler` says.
#[allow(unsafe_code)]
fn set_hangup(handler: SigHandler) {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, signal};
    // SAFETY: installs SIG_IGN or SIG_DFL, no handler code runs; tokio replaces it with its own
    // handler in site mode once serving.
    if let Err(e) = unsafe { signal(Signal::SIGHUP, handler) } {
        eprintln!("warning: could not set what SIGHUP does: {e}");
    }
    let hangup = SigSet::from(Signal::SIGHUP);
    if let Err(e) = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&hangup), None)
    {
        eprintln!("warning: could not let SIGHUP through: {e}");
    }
}

/// Holds SIGHUP back (in the one thread there is yet) until [`set_hangup`] says what it does.
fn block_hangup() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let hangup = SigSet::from(Signal::SIGHUP);
    if let Err(e) = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&hangup), None) {
        eprintln!("warning: could not hold SIGHUP back: {e}");
    }
}

/// No core file, whatever the limits keyhatch was started with (`LimitCORE=infinity`, `ulimit
/// -c unlimited`): its memory holds passphrases, Platform tokens and private keys (red team:
/// a core of local mode held all three). Not dumpable also keeps other processes of the same
/// account from reading its memory and environment through `/proc`, or tracing it.
fn no_core_dumps() {
    use rustix::process::{DumpableBehavior, Resource, Rlimit, set_dumpable_behavior, setrlimit};
    let none = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let done = setrlimit(Resource::Core, none)
        .and_then(|()| set_dumpable_behavior(DumpableBehavior::NotDumpable));
    if let Err(e) = done {
        eprintln!("keyhatch: warning: cannot turn off core dumps: {e}");
    }
}

/// Marks every descriptor keyhatch inherited beyond the standard three close-on-exec, so that
/// no program it starts inherits one: a site-mode helper becomes a person and runs the job they
/// sent, and a shell or a parent may have left open a descriptor of its own, such as a
/// root-only file (red team). Without `/proc` (an empty chroot) there is nothing to list.
#[allow(unsafe_code)]
fn close_inherited_on_exec() {
    use std::os::fd::{AsRawFd, BorrowedFd};

    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    use rustix::fs::{Dir, Mode, OFlags, open};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let Ok(listing) = open("/proc/self/fd", flags, Mode::empty()) else {
        return;
    };
    let own = listing.as_raw_fd();
    let Ok(mut entries) = Dir::new(listing) else {
        return;
    };
    let inherited: Vec<i32> = std::iter::from_fn(|| entries.read())
        .filter_map(|entry| entry.ok()?.file_name().to_str().ok()?.parse().ok())
        .filter(|&fd| fd > 2 && fd != own)
        .collect();
    for fd in inherited {
        // SAFETY: `fd` was listed open, and it stays open during the call: this runs first
        // in main, on the only thread, and closes no descriptor (the listing's own, still
        // open, is left out).
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
}

/// Raises the soft limit on open files to the hard one, as many servers do: the owner's own
/// browser and scripts then have room well beyond the usual 1,024 (another account's
/// connections are closed as soon as they are accepted, and hold none).
fn raise_open_files_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum
        && let Err(e) = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        )
    {
        tracing::warn!("could not raise the open files limit: {e}");
    }
}
