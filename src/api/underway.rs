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
use std::time::Duration;

use tokio::sync::Notify;

/// Every task of changes under way in this server; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Underway(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    /// Each task under way, by its number.
    tasks: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
    /// Told whenever a task ends.
    ended: Notify,
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
        self.0.lock().insert(id, entry);
        Task {
            shared: Arc::clone(&self.0),
            id,
        }
    }

    /// How many tasks are under way.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Whether no task is under way.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until every task has ended, for at most `within`, or until `give_up` ends first;
    /// returns the changes still being made then.
    pub async fn ended(
        &self,
        within: Duration,
        give_up: impl Future<Output = ()>,
    ) -> Vec<Unfinished> {
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
            () = tokio::time::sleep(within) => {}
            () = give_up => {}
        }
        let tasks = self.0.lock();
        let mut unfinished: Vec<(u64, Unfinished)> = tasks
            .iter()
            .filter_map(|(id, entry)| {
                let action = entry.making?;
                let (account, remote) = (entry.account.clone(), entry.remote.clone());
                Some((
                    *id,
                    Unfinished {
                        action,
                        account,
                        remote,
                    },
                ))
            })
            .collect();
        unfinished.sort_by_key(|(id, _)| *id);
        unfinished.into_iter().map(|(_, u)| u).collect()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Task {
    /// Marks the task as making `action` (`None`: between changes).
    pub fn making(&self, action: Option<&'static str>) {
        if let Some(entry) = self.shared.lock().get_mut(&self.id) {
            entry.making = action;
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.shared.lock().remove(&self.id);
        self.shared.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_waits_for_every_task_and_names_what_it_did_not_wait_for() {
        let underway = Underway::default();
        let (quick, slow) = (
            underway.start("alice", "unix"),
            underway.start("bob", "127.0.0.1:5000"),
        );
        quick.making(Some("revoke"));
        slow.making(Some("seqera update"));
        let idle = underway.start("carol", "unix");
        drop(idle);
        assert_eq!(underway.len(), 2);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(quick);
        });
        let unfinished = underway
            .ended(Duration::from_millis(500), std::future::pending())
            .await;
        assert_eq!(
            unfinished,
            [Unfinished {
                action: "seqera update",
                account: "bob".into(),
                remote: "127.0.0.1:5000".into(),
            }]
        );
        slow.making(None);
        assert!(
            (underway.ended(Duration::ZERO, std::future::pending()).await).is_empty(),
            "a task between changes has nothing unfinished"
        );
        drop(slow);
        let started = std::time::Instant::now();
        let unfinished = underway
            .ended(Duration::from_secs(60), std::future::pending())
            .await;
        assert!(unfinished.is_empty());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "no task: no wait"
        );
    }

    #[tokio::test]
    async fn giving_up_ends_the_wait_at_once() {
        let underway = Underway::default();
        let task = underway.start("alice", "unix");
        task.making(Some("generate"));
        let started = std::time::Instant::now();
        let unfinished = underway
            .ended(Duration::from_secs(60), std::future::ready(()))
            .await;
        assert_eq!(unfinished.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
