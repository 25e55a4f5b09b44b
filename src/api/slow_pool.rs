//! A small pool of threads at the lowest scheduling priority for the one slow thing keyhatch
//! does: deriving a passphrase key's encryption key (bcrypt-pbkdf, about a tenth of a second
//! of both cores). Listing, revoking and the page run on tokio's threads at normal priority,
//! so the kernel serves them first even while every core is deriving.
//!
//! Bounded: `workers` threads take jobs in arrival order; a job's own helper threads (the
//! KDF's second block) inherit the low priority, as Linux threads inherit their creator's.

#![deny(missing_docs)]

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use crate::error::AppError;

/// The nice value the pool's threads take: the lowest priority a thread can have short of
/// `SCHED_IDLE` (and, unlike it, reachable without unsafe code).
const NICE: i32 = 19;

type Job = Box<dyn FnOnce() + Send>;

/// The pool; cloning shares it. The threads end when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct SlowPool {
    jobs: Sender<Job>,
}

impl SlowPool {
    /// Starts `workers` threads (at least one), each lowering its own priority first. A
    /// priority that cannot be lowered (a locked-down container) is logged, not fatal.
    pub fn start(workers: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            thread::Builder::new()
                .name(format!("keyhatch-slow-{n}"))
                .spawn(move || work(&queue))?;
        }
        Ok(Self { jobs })
    }

    /// A pool of half as many workers as the machine has cores (at least one): each job uses
    /// two threads, one per KDF block.
    pub fn for_this_machine() -> std::io::Result<Self> {
        let cores = thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::start(cores.div_ceil(2))
    }

    /// Runs `job` on the pool and waits for its answer without holding up the async runtime.
    /// A job whose asker has gone (a client that hung up) by its turn is dropped unrun, so
    /// abandoned jobs do not keep others waiting.
    pub async fn run<T, F>(&self, job: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if answer.is_closed() {
                return;
            }
            // The asker may go while it runs: then the answer is dropped.
            let _ = answer.send(job());
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())
    }
}

/// A worker: lowers its priority, then runs jobs until the pool is dropped. A job that panics
/// loses its answer (its asker hears "stopped"), not the worker.
fn work(queue: &Mutex<Receiver<Job>>) {
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), NICE) {
        tracing::warn!("could not lower the key-derivation threads' priority: {e}");
    }
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => {
                // The job owns everything it touches; nothing shared is left half-changed.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

fn stopped() -> AppError {
    AppError::Keygen("the key-derivation threads stopped; try again".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of thread `tid`, from `/proc` (field 19 of `stat`).
    fn nice_of(tid: i32) -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn jobs_run_at_the_lowest_priority_and_their_threads_inherit_it() {
        let own = rustix::thread::gettid().as_raw_nonzero().get();
        let before = nice_of(own);
        let pool = SlowPool::start(1).unwrap();
        let (worker, helper) = pool
            .run(|| {
                let worker = rustix::thread::gettid().as_raw_nonzero().get();
                let helper = thread::scope(|s| {
                    s.spawn(|| {
                        let me = rustix::thread::gettid().as_raw_nonzero().get();
                        nice_of(me)
                    })
                    .join()
                    .unwrap()
                });
                (nice_of(worker), helper)
            })
            .await
            .unwrap();
        assert_eq!((worker, helper), (NICE, NICE));
        assert_eq!(nice_of(own), before, "the caller's priority is untouched");
    }

    #[tokio::test]
    async fn a_job_that_panics_fails_alone_and_the_worker_goes_on() {
        let pool = SlowPool::start(1).unwrap();
        let failed = pool.run(|| -> i32 { panic!("a bug in a job") }).await;
        assert!(matches!(failed, Err(AppError::Keygen(_))), "{failed:?}");
        assert_eq!(pool.run(|| 42).await.unwrap(), 42);
    }

    #[tokio::test]
    async fn answers_come_back_to_each_asker() {
        let pool = SlowPool::start(2).unwrap();
        let answers = run_all(&pool, (0..20).map(|n| move || n * n).collect::<Vec<_>>()).await;
        assert_eq!(answers, (0..20).map(|n| n * n).collect::<Vec<_>>());
    }

    async fn run_all<F>(pool: &SlowPool, jobs: Vec<F>) -> Vec<i32>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        let mut pending = Vec::new();
        for job in jobs {
            let pool = pool.clone();
            pending.push(tokio::spawn(async move { pool.run(job).await.unwrap() }));
        }
        let mut answers = Vec::new();
        for p in pending {
            answers.push(p.await.unwrap());
        }
        answers
    }
}
