//! Starting helpers from the server: each runs within a wall-clock bound, after which it is
//! killed and reaped, and none holds a thread of the server while it runs (tokio waits for it).
//! A few are started ahead of need ([`Spares`]), so that a request does not wait for the
//! binary to be loaded and linked; each still does one job and exits.
//! A person may stop their own helper (`SIGSTOP`: it runs as them); that costs them their
//! request and one of their few operations under way (the permit it holds until it is reaped),
//! never anyone else's service.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, oneshot};

use super::job::{HELPER_ARG, Helper, Identity, Job, failed};
use crate::api::limits::Permit;
use crate::api::op::{Operation, Ping};
use crate::error::AppError;

/// The longest answer read from a helper: a list of a file at the largest size, many times.
const MAX_ANSWER: u64 = 64 << 20;

/// How long a health check's helper may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a health check's outcome is reused: `/healthz` is open to all, and must not be a
/// way to start helpers at will.
const PROBE_FRESH: Duration = Duration::from_secs(2);

/// What a health check found, and when.
type Checked = Option<(Instant, Result<(), String>)>;

/// How many helpers wait, started, for a job: one for the request under way and one for the
/// next, on a server that answers one person at a time; a burst beyond them starts helpers on
/// demand, as before.
const SPARES: usize = 2;

/// Starts helpers, each within `timeout`.
#[derive(Debug, Clone)]
pub struct Runner {
    timeout: Duration,
    /// Who the health check's helper becomes (`nobody` unless told): an account whose files it
    /// never opens.
    health: Identity,
    checked: Arc<Mutex<Checked>>,
    /// Helpers started and waiting for a job; none for the health check, which must start one.
    spares: Option<Arc<Spares>>,
}

impl Runner {
    /// Helpers bounded to `timeout` each.
    pub fn new(timeout: Duration) -> Self {
        let nobody = nix::unistd::User::from_name("nobody").ok().flatten();
        let (uid, gid) = nobody.map_or((65534, 65534), |u| (u.uid.as_raw(), u.gid.as_raw()));
        Self {
            timeout,
            health: Identity::system("nobody", uid, gid),
            checked: Arc::default(),
            spares: Some(Spares::started()),
        }
    }

    /// Runs `op` in a helper for `helper`'s person and returns its answer, or a clear error
    /// once the time bound has passed. The helper runs on its own task, holding `permit` until
    /// it is reaped: a client that hangs up does not stop it halfway, and a helper the kernel
    /// cannot kill yet (stuck on a hung NFS server) keeps counting against its person. An
    /// answer that is not `op`'s (another operation's, or none) is an error.
    pub async fn call<O: Operation>(
        &self,
        helper: &Helper,
        op: O,
        permit: Permit,
    ) -> Result<O::Reply, AppError> {
        let job = serde_json::to_vec(&Job {
            helper: helper.clone(),
            request: op.into(),
        })
        .map_err(|e| failed(e.to_string()))?;
        let (answer, answered) = oneshot::channel();
        let timeout = self.timeout;
        let spare = self.spares.as_ref().and_then(Spares::take);
        tokio::spawn(async move {
            let _permit = permit;
            supervise(&job, spare, timeout, answer).await;
        });
        let bytes = answered.await.map_err(|_| failed("it was lost".into()))??;
        read_answer::<O>(&bytes)
    }

    /// The same runner, whose health check's helper becomes `identity`.
    pub fn with_health_check_as(self, identity: Identity) -> Self {
        Self {
            health: identity,
            ..self
        }
    }

    /// Whether helpers can be started and finish: a helper that becomes the health check's
    /// account and answers at once, checked at most every two seconds (callers meanwhile get the last outcome). The
    /// error says what failed.
    pub async fn healthy(&self) -> Result<(), String> {
        let mut checked = self.checked.lock().await;
        if let Some((at, outcome)) = &*checked
            && at.elapsed() < PROBE_FRESH
        {
            return outcome.clone();
        }
        // A helper started for the check, not a spare: it must show that helpers can start now.
        let probe = Self {
            timeout: self.timeout.min(PROBE_TIMEOUT),
            spares: None,
            ..self.clone()
        };
        let helper = Helper {
            identity: self.health.clone(),
            max_file_size: 0,
            lock_timeout: Duration::ZERO,
            keys_file: ".ssh/authorized_keys".into(),
        };
        let outcome = probe
            .call(&helper, Ping, Permit::unbounded())
            .await
            .map_err(|e| e.to_string());
        *checked = Some((Instant::now(), outcome.clone()));
        outcome
    }
}

/// The answer to an operation `O` in `bytes`, as a helper wrote it: `O`'s reply or an error. An
/// answer of any other shape (another operation's reply) is an error of its own.
fn read_answer<O: Operation>(bytes: &[u8]) -> Result<O::Reply, AppError> {
    serde_json::from_slice::<Result<O::Reply, AppError>>(bytes)
        .map_err(|e| failed(format!("unreadable answer: {e}")))?
}

/// Helpers started ahead of need. Each is a helper as any other (keyhatch's own binary, an
/// empty environment, `/` as its directory), loaded and linked, blocked reading its job as root
/// with every other id untouched: no person can signal, trace or feed it. A request takes one,
/// hands it its job (it then becomes the person and does that job alone, and exits), and a new
/// one is started in the background. A spare that has died (killed by an administrator, or the
/// out-of-memory killer) is passed over; with none left, a helper is started on demand. When the
/// server stops, each is killed; when it dies, each reads the end of its input and exits.
#[derive(Debug, Default)]
struct Spares(std::sync::Mutex<Waiting>);

/// The spares that wait, and how many are being started: a start is counted before it begins,
/// so that requests arriving together start no more than are missing (before, about one start
/// in ten under a burst was a helper started only to be killed).
#[derive(Debug, Default)]
struct Waiting {
    ready: std::collections::VecDeque<Child>,
    starting: usize,
}

impl Spares {
    /// Spares, started from now on in the background when there is a runtime to start them.
    fn started() -> Arc<Self> {
        let spares = Arc::new(Self::default());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let filling = Arc::clone(&spares);
            runtime.spawn(async move { filling.fill() });
        }
        spares
    }

    /// The longest-waiting spare still alive, if any; another is started in its place in the
    /// background.
    fn take(self: &Arc<Self>) -> Option<Child> {
        let spare = {
            let mut waiting = self.lock();
            std::iter::from_fn(|| waiting.ready.pop_front())
                .find_map(|mut child| matches!(child.try_wait(), Ok(None)).then_some(child))
        };
        let spares = Arc::clone(self);
        tokio::spawn(async move { spares.fill() });
        spare
    }

    /// Starts helpers until [`SPARES`] wait or are being started; gives up quietly on a failure
    /// (the request that finds none starts its own, and says why it cannot).
    fn fill(&self) {
        loop {
            {
                let mut waiting = self.lock();
                if waiting.ready.len() + waiting.starting >= SPARES {
                    return;
                }
                waiting.starting += 1;
            }
            let started = start();
            let mut waiting = self.lock();
            waiting.starting -= 1;
            match started {
                Ok(child) => waiting.ready.push_back(child),
                Err(_) => return,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether helpers leave a stop to this process (see [`leave_stops_to_this_process`]).
static STOPS_LEFT_TO_THIS_PROCESS: AtomicBool = AtomicBool::new(false);

/// Helpers started from now on ignore SIGINT and SIGTERM, which a stop of the whole group sends
/// them too (a terminal's Ctrl-C, systemd's stop of the control group): one died in the middle
/// of its change (red team). For the server, which lets its helpers end and writes what it
/// left; not for `keyhatch admin`, which does not wait for them: its helpers, ignoring a
/// Ctrl-C, went on to remove keys with no audit line (red team).
pub fn leave_stops_to_this_process() {
    STOPS_LEFT_TO_THIS_PROCESS.store(true, Ordering::Relaxed);
}

/// Starts a helper, which waits for its job on standard input.
#[allow(unsafe_code)]
fn start() -> std::io::Result<Child> {
    let mut command = Command::new("/proc/self/exe");
    if STOPS_LEFT_TO_THIS_PROCESS.load(Ordering::Relaxed) {
        // SAFETY: between fork and exec the child only calls sigaction (async-signal-safe) to
        // ignore two signals, which exec keeps ignored; it allocates and locks nothing.
        unsafe {
            command.pre_exec(|| {
                use nix::sys::signal::{SigHandler, Signal, signal};
                for stop in [Signal::SIGINT, Signal::SIGTERM] {
                    signal(stop, SigHandler::SigIgn)?;
                }
                Ok(())
            });
        }
    }
    // /proc/self/exe rather than the binary's path: an upgrade that replaces the file while
    // keyhatch runs must not pair this server with another version's helper.
    command
        .arg(HELPER_ARG)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Not the server's standard error (the audit log by default): the person could write
        // to it through their helper's descriptors.
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .inspect(|_| crate::metrics::helper_started())
}

/// Hands `job` to `spare`, or to a helper started now, and sends its answer (or why there is
/// none) on `answer`, within `timeout`; a helper still running then is killed (`SIGKILL`) and
/// reaped before this returns. Its time is recorded only when a helper ran: every helper
/// started does a job or still waits for one, and the counts say so exactly.
async fn supervise(
    job: &[u8],
    spare: Option<Child>,
    timeout: Duration,
    answer: oneshot::Sender<Result<Vec<u8>, AppError>>,
) {
    let started = Instant::now();
    let mut child = match spare.map_or_else(start, Ok) {
        Ok(child) => child,
        Err(e) => {
            let _ = answer.send(Err(failed(format!("cannot start: {e}"))));
            return;
        }
    };
    match tokio::time::timeout(timeout, talk(&mut child, job)).await {
        Ok(outcome) => {
            let _ = answer.send(outcome);
        }
        Err(_) => {
            let _ = answer.send(Err(timed_out(timeout)));
            if let Err(e) = child.start_kill() {
                tracing::warn!("cannot kill a helper past its time bound: {e}");
            }
            let _ = child.wait().await;
        }
    }
    crate::metrics::helper_took(started.elapsed());
}

/// Sends `job` to the helper `child`, reads its answer to the end, and waits for it to exit.
async fn talk(child: &mut Child, job: &[u8]) -> Result<Vec<u8>, AppError> {
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    let send = async move {
        let mut stdin = stdin.ok_or_else(|| std::io::Error::other("no standard input"))?;
        stdin.write_all(job).await
        // Dropped here: the helper reads to the end of its input.
    };
    let receive = async move {
        let stdout = stdout.ok_or_else(|| std::io::Error::other("no standard output"))?;
        let mut answer = Vec::new();
        stdout.take(MAX_ANSWER).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let (sent, received) = tokio::join!(send, receive);
    let status = child.wait().await.map_err(|e| failed(e.to_string()))?;
    match received {
        Ok(answer) if sent.is_ok() && !answer.is_empty() => Ok(answer),
        _ => Err(failed(format!("it ended ({status}) without an answer"))),
    }
}

fn timed_out(timeout: Duration) -> AppError {
    let seconds = match timeout.as_secs() {
        0 | 1 => "1 second".to_owned(),
        n => format!("{n} seconds"),
    };
    AppError::Busy(format!(
        "keyhatch's helper did not finish within {seconds} and was stopped; try again, and if \
         it happens again your home directory may be unreachable: tell your administrator"
    ))
}

#[cfg(test)]
mod tests;
