//! The changes under way (server only), so that a stop waits for them to end and be written in
//! the audit log, and can name those it did not wait for.
//!
//! A change runs on a task of its own, which goes on after its client has hung up. A stop
//! (SIGTERM, a restart, an upgrade) used to drop such tasks with the runtime: a key could be
//! in Platform, or revoked, with no audit line saying so (red team).

#![deny(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// Every task of changes under way in this server; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Underway(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    tasks: Mutex<Tasks>,
    next: AtomicU64,
    /// Told whenever a task ends.
    ended: Notify,
}

#[derive(Debug, Default)]
struct Tasks {
    /// Each task under way, by its number.
    by_id: HashMap<u64, Entry>,
    /// Set once a stop has named what it left: no change starts after that (red team: one
    /// could start, unwritten, in the moment before the process ended).
    closed: bool,
}

/// Whose a task is, and the change it is making now, if any.
#[derive(Debug, Clone)]
struct Entry {
    account: String,
    remote: String,
    making: Option<&'static str>,
}

/// A change a stop did not wait for: its outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// The change, as the audit log names it (`revoke`, `seqera update`).
    pub action: &'static str,
    /// The account it was made for.
    pub account: String,
    /// The client's address that asked for it.
    pub remote: String,
}

/// One task of changes by one account: under way from [`Underway::start`] until dropped.
#[derive(Debug)]
pub struct Task {
    shared: Arc<Shared>,
    id: u64,
}

impl Underway {
    /// A task of changes for `account`, asked for from `remote`, under way until the returned
    /// [`Task`] is dropped. Taken before the task is spawned, so that a stop that comes before
    /// it first runs still waits for it.
    pub fn start(&self, account: &str, remote: &str) -> Task {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            account: account.to_owned(),
            remote: remote.to_owned(),
            making: None,
        };
        self.0.lock().by_id.insert(id, entry);
        Task {
            shared: Arc::clone(&self.0),
            id,
        }
    }

    /// Whether no task is under way.
    pub fn is_empty(&self) -> bool {
        self.0.lock().by_id.is_empty()
    }

    /// Waits until every task has ended, or until `give_up` ends first; then lets no change
    /// start, and calls `unfinished` with each change still being made, in the order their
    /// tasks began.
    pub async fn ended(
        &self,
        give_up: impl Future<Output = ()>,
        unfinished: impl FnMut(Unfinished),
    ) {
        let all_ended = async {
            loop {
                // Listening before looking, so an end between the two is not missed.
                let mut one_ended = pin!(self.0.ended.notified());
                one_ended.as_mut().enable();
                if self.is_empty() {
                    return;
                }
                one_ended.await;
            }
        };
        tokio::select! {
            () = all_ended => {}
            () = give_up => {}
        }
        let mut tasks = self.0.lock();
        tasks.closed = true;
        let mut left: Vec<(&u64, &Entry)> = tasks.by_id.iter().collect();
        left.sort_by_key(|(id, _)| **id);
        left.into_iter()
            .filter_map(|(_, entry)| {
                Some(Unfinished {
                    action: entry.making?,
                    account: entry.account.clone(),
                    remote: entry.remote.clone(),
                })
            })
            .for_each(unfinished);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Task {
    /// Marks the task as making `action`; false, and nothing marked, once a stop has named
    /// what it left: the change must not start.
    pub fn begin(&self, action: &'static str) -> bool {
        let mut tasks = self.shared.lock();
        if tasks.closed {
            return false;
        }
        if let Some(entry) = tasks.by_id.get_mut(&self.id) {
            entry.making = Some(action);
        }
        true
    }

    /// Marks the change being made as ended, with `record` (its audit line) called in the same
    /// step: a stop names it unfinished before, or not at all, never once it is written.
    pub fn end(&self, record: impl FnOnce()) {
        let mut tasks = self.shared.lock();
        record();
        if let Some(entry) = tasks.by_id.get_mut(&self.id) {
            entry.making = None;
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.shared.lock().by_id.remove(&self.id);
        self.shared.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    async fn left_at(underway: &Underway, give_up: impl Future<Output = ()>) -> Vec<Unfinished> {
        let mut left = Vec::new();
        underway.ended(give_up, |u| left.push(u)).await;
        left
    }

    #[tokio::test]
    async fn a_stop_waits_for_every_task_then_names_what_it_left_and_starts_no_more() {
        let underway = Underway::default();
        let (quick, slow) = (
            underway.start("alice", "unix"),
            underway.start("bob", "127.0.0.1:5000"),
        );
        assert!(quick.begin("revoke") && slow.begin("seqera update"));
        drop(underway.start("carol", "unix"));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(quick);
        });
        let started = Instant::now();
        let give_up = tokio::time::sleep(Duration::from_millis(500));
        let left = left_at(&underway, give_up).await;
        assert!(started.elapsed() >= Duration::from_millis(500));
        let bobs = Unfinished {
            action: "seqera update",
            account: "bob".into(),
            remote: "127.0.0.1:5000".into(),
        };
        assert_eq!(left, [bobs]);
        let late = underway.start("dave", "unix");
        assert!(!late.begin("generate"), "a change started after the stop");
        assert!(!slow.begin("revoke"), "the next change of a task under way");
    }

    #[tokio::test]
    async fn a_change_written_is_never_named_unfinished_and_no_task_means_no_wait() {
        let underway = Underway::default();
        let task = underway.start("alice", "unix");
        assert!(task.begin("revoke"));
        let mut written = false;
        task.end(|| written = true);
        assert!(written);
        let between = left_at(&underway, std::future::ready(())).await;
        assert!(between.is_empty(), "a task between changes left nothing");
        drop(task);
        let started = Instant::now();
        assert!(left_at(&underway, std::future::pending()).await.is_empty());
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
