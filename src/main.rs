//! keyhatch's server: settings → state → router.

use std::process::ExitCode;

use clap::Parser;
use keyhatch::server::settings::{Cli, Settings};

fn main() -> ExitCode {
    // A site-mode helper: it becomes one person and does one job, with no runtime and no log.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == keyhatch::api::helper::HELPER_ARG)
    {
        return keyhatch::api::helper::serve_one();
    }
    ignore_file_size_signal();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log that cannot be written (full disk, file size limit) must not stop the server:
        // by default tracing reports it with eprintln!, which panics when stderr is what failed.
        .log_internal_errors(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "keyhatch=info,warn".into()),
        )
        .init();
    let settings = match Settings::load(Cli::parse()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("keyhatch: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("keyhatch: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(keyhatch::server::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyhatch: {e}");
            ExitCode::FAILURE
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
