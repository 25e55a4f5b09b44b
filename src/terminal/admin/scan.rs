//! Going through many accounts: which ones (the homes in a directory, or the names given), a
//! few at a time, each bounded in time, one that fails said and passed over.

use std::collections::HashSet;
use std::future::Future;
use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::context::Admin;
use crate::api::person::Person;
use crate::declared::Accounts;

/// The largest `--users-file` read.
const MAX_USERS_FILE: u64 = 16 << 20;

/// An account to go through: named, or the owner of a home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The account with this name.
    User(String),
    /// The account that owns this directory.
    Home(PathBuf),
}

impl Target {
    /// How the target is shown before its account is known.
    fn shown(&self) -> String {
        match self {
            Self::User(name) => name.clone(),
            Self::Home(dir) => dir.display().to_string(),
        }
    }
}

/// What became of one target.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The work was done for `account`.
    Done {
        /// The account's name.
        account: String,
        /// What the work answered.
        value: T,
    },
    /// Not an account keyhatch serves (a directory of root's, a system account's home): said,
    /// not a failure.
    Skipped {
        /// The target as shown.
        what: String,
        /// Why.
        why: String,
    },
    /// The account could not be gone through.
    Failed {
        /// The account, or the target as shown.
        what: String,
        /// Why.
        why: String,
    },
}

/// The targets `accounts` names: every directory (or link) in `--homes`, by name; then the
/// names of `--users` and `--users-file`, each once. An error when none is named, or a source
/// cannot be read.
pub fn targets(accounts: &Accounts) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    if let Some(dir) = &accounts.homes {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("--homes {}: {e}", dir.display()))?;
        let mut homes = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("--homes {}: {e}", dir.display()))?;
            // The entry's own type, from the directory: nothing inside a home is looked at.
            let kind = entry.file_type().map_err(|e| format!("{dir:?}: {e}"))?;
            if kind.is_dir() || kind.is_symlink() {
                homes.push(entry.path());
            }
        }
        homes.sort();
        targets.extend(homes.into_iter().map(Target::Home));
    }
    let mut names: Vec<String> = accounts.users.clone();
    if let Some(file) = &accounts.users_file {
        use std::io::Read;
        let mut text = String::new();
        std::fs::File::open(file)
            .and_then(|f| f.take(MAX_USERS_FILE).read_to_string(&mut text))
            .map_err(|e| format!("--users-file {}: {e}", file.display()))?;
        names.extend(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or("").trim().to_owned()),
        );
    }
    let mut seen = HashSet::new();
    for name in names.into_iter().map(|n| n.trim().to_owned()) {
        if !name.is_empty() && seen.insert(name.clone()) {
            targets.push(Target::User(name));
        }
    }
    if let Some(why) = no_source(accounts) {
        return Err(why);
    }
    if targets.is_empty() && accounts.homes.is_none() {
        return Err("the accounts named are none: the --users-file holds no name".to_owned());
    }
    Ok(targets)
}

/// Why no account can be gone through, when no source of them is named.
pub fn no_source(accounts: &Accounts) -> Option<String> {
    let named =
        accounts.homes.is_some() || !accounts.users.is_empty() || accounts.users_file.is_some();
    (!named).then(|| {
        "name the accounts: --homes DIR (each directory in it is a home), --users NAMES or \
         --users-file FILE. There is no \"every account\": SSSD and LDAP do not list their \
         accounts by default"
            .to_owned()
    })
}

/// Runs `work` for the account of each target, `jobs` at a time, and returns each outcome in
/// the targets' order. Each home is looked at (its owner, as root: the directory itself only)
/// within the helper timeout; `work` runs the account's operations through its helpers,
/// each bounded the same way. An account met twice is gone through once. A progress line goes
/// to standard error while it runs, when that is a terminal.
pub async fn scan<T, F, Fut>(
    admin: Arc<Admin>,
    targets: Vec<Target>,
    jobs: usize,
    work: F,
) -> Vec<Outcome<T>>
where
    T: Send + 'static,
    F: Fn(Arc<Admin>, Person) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let total = targets.len();
    let work = Arc::new(work);
    let slots = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let progress = Progress::new(total);
    let mut running = tokio::task::JoinSet::new();
    for (index, target) in targets.into_iter().enumerate() {
        let (admin, work, slots, seen) = (admin.clone(), work.clone(), slots.clone(), seen.clone());
        running.spawn(async move {
            let _slot = slots.acquire_owned().await;
            (index, one(&admin, target, &seen, &*work).await)
        });
    }
    let mut outcomes = Vec::with_capacity(total);
    while let Some(done) = running.join_next().await {
        if let Ok(done) = done {
            outcomes.push(done);
        }
        progress.step();
    }
    progress.finish();
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

/// The outcome of `work` for `target`'s account.
async fn one<T, F, Fut>(
    admin: &Arc<Admin>,
    target: Target,
    seen: &Mutex<HashSet<String>>,
    work: &F,
) -> Outcome<T>
where
    F: Fn(Arc<Admin>, Person) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let what = target.shown();
    let name = match &target {
        Target::User(name) => name.clone(),
        Target::Home(dir) => match owner(admin, dir.clone()).await {
            Ok(Ok(name)) => name,
            Ok(Err(why)) => return Outcome::Skipped { what, why },
            Err(why) => return Outcome::Failed { what, why },
        },
    };
    let first = seen
        .lock()
        .map_or(true, |mut seen| seen.insert(name.clone()));
    if !first {
        return Outcome::Skipped {
            what,
            why: format!("{name}'s, gone through already"),
        };
    }
    let person = match admin.person(&name) {
        Ok(person) => person,
        Err(why) if matches!(target, Target::Home(_)) => {
            return Outcome::Skipped { what, why };
        }
        Err(why) => return Outcome::Failed { what, why },
    };
    match work(admin.clone(), person).await {
        Ok(value) => Outcome::Done {
            account: name,
            value,
        },
        Err(why) => Outcome::Failed { what: name, why },
    }
}

/// The account that owns the home `dir` (a link followed, as sshd reaches a home), looked at
/// within the helper timeout: `Ok(Err(why))` when it is no account's to go through, `Err`
/// when it cannot be looked at, or when it is not the home of the account that owns it (two
/// accounts sharing a uid, a directory given to someone else): going through that account
/// would be another directory than the one listed.
async fn owner(admin: &Admin, dir: PathBuf) -> Result<Result<String, String>, String> {
    let shown = dir.display().to_string();
    let look = tokio::task::spawn_blocking(move || look_at_home(&dir));
    match tokio::time::timeout(admin.helper_timeout, look).await {
        Ok(Ok(looked)) => looked,
        Ok(Err(e)) => Err(format!("cannot look at {shown}: {e}")),
        Err(_) => Err(format!(
            "{shown} did not answer within {} s (a hung file system?)",
            admin.helper_timeout.as_secs()
        )),
    }
}

/// [`owner`]'s look at `dir` and at its owner's home (as root: the two directories only).
fn look_at_home(dir: &std::path::Path) -> Result<Result<String, String>, String> {
    let shown = dir.display();
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot look at {shown}: {e}"))?;
    if !meta.is_dir() {
        return Ok(Err("not a directory".to_owned()));
    }
    if meta.uid() == 0 {
        return Ok(Err("root's, not an account's home".to_owned()));
    }
    let Ok(Some(user)) = nix::unistd::User::from_uid(meta.uid().into()) else {
        return Ok(Err(format!(
            "no account has its owner's uid {}",
            meta.uid()
        )));
    };
    let same = std::fs::metadata(&user.dir)
        .is_ok_and(|home| (home.dev(), home.ino()) == (meta.dev(), meta.ino()));
    if !same {
        return Err(format!(
            "owned by uid {}, whose account {} has its home at {}: not gone through; name the account it belongs to with --users",
            meta.uid(),
            user.name,
            user.dir.display()
        ));
    }
    Ok(Ok(user.name))
}

/// `n/total accounts` on standard error, rewritten in place, when it is a terminal.
struct Progress {
    total: usize,
    done: AtomicUsize,
    shown: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        let progress = Self {
            total,
            done: AtomicUsize::new(0),
            shown: std::io::stderr().is_terminal() && total > 0,
        };
        progress.show(0);
        progress
    }

    fn step(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.show(done);
    }

    fn show(&self, done: usize) {
        if self.shown {
            eprint!("\r{done}/{} accounts", self.total);
        }
    }

    fn finish(&self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
    }
}
