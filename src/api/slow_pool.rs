//! A small pool of threads for the one slow thing keyhatch does: deriving a passphrase key's
//! encryption key (bcrypt-pbkdf, about a tenth of a second of both cores).
//!
//! Its priority follows the machine's load, job by job. With cores to spare, a job runs at the
//! lowest priority (nice 19): listing, revoking and the page, on tokio's threads at normal
//! priority, are served first even while every core is deriving. When other processes already
//! keep every core busy (a login node's ordinary day), nice 19 would leave the derivation almost
//! no CPU (a key took 8 s where `ssh-keygen -a 24` took 0.3 s), so the job keeps the person's
//! own priority (nice 0) and competes as their `ssh-keygen` would. The load is the kernel's
//! count of runnable threads (`procs_running` in `/proc/stat`) less keyhatch's own, the least
//! of five readings a millisecond apart as each job starts.
//!
//! Bounded: `workers` threads take jobs in arrival order; each job runs on a thread of its own,
//! started at the priority chosen for it (a thread cannot raise its priority back once lowered),
//! and the KDF's second block runs on a thread that inherits it.

#![deny(missing_docs)]

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use crate::error::AppError;
use crate::ssh::kdf::Wanted;

/// The nice value a job takes when the machine has cores to spare: the lowest priority a thread
/// can have short of `SCHED_IDLE` (and, unlike it, reachable without unsafe code).
const NICE: i32 = 19;

/// A derivation, ready to run on a thread of its own.
type Work = Box<dyn FnOnce() + Send>;
/// A job: it hands its work to `start` (which picks the priority and the thread), unless its
/// asker has gone by its turn; then it hands nothing, and costs the worker nothing.
type Job = Box<dyn FnOnce(&mut dyn FnMut(Work)) + Send>;

/// The pool; cloning shares it. The threads end when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct SlowPool {
    jobs: Sender<Job>,
}

impl SlowPool {
    /// Starts `workers` threads (at least one). A priority that cannot be lowered (a
    /// locked-down container) is logged, not fatal.
    pub fn start(workers: usize) -> std::io::Result<Self> {
        Self::start_with(workers, others_running)
    }

    /// As [`SlowPool::start`], with the load read by `load` (the threads runnable besides the
    /// asker), so tests can set it.
    fn start_with(workers: usize, load: fn() -> Option<usize>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            thread::Builder::new()
                .name(format!("keyhatch-slow-{n}"))
                .spawn(move || work(&queue, load))?;
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
    /// abandoned jobs do not keep others waiting. A job that has started is given `wanted`,
    /// which says whether its asker is still there, to stop early once it is not.
    pub async fn run<T, F>(&self, job: F) -> Result<T, AppError>
    where
        F: FnOnce(&Wanted<'_>) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |start| {
            if answer.is_closed() {
                return;
            }
            start(Box::new(move || {
                let done = {
                    let asker_there = || !answer.is_closed();
                    job(&asker_there)
                };
                // The asker may have gone meanwhile: then the answer is dropped.
                let _ = answer.send(done);
            }));
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())
    }
}

/// A worker: runs jobs until the pool is dropped, each on a thread of its own at the priority
/// the load calls for. A job that panics loses its answer (its asker hears "stopped"), not the
/// worker.
fn work(queue: &Mutex<Receiver<Job>>, load: fn() -> Option<usize>) {
    let cores = thread::available_parallelism().map_or(1, std::num::NonZero::get);
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        job(&mut |work: Work| {
            let nice = nice_for(steady_load(load), cores);
            let ran = thread::Builder::new()
                .name("keyhatch-kdf".into())
                .spawn(move || {
                    if nice != 0 {
                        let me = rustix::thread::gettid();
                        if let Err(e) = rustix::process::setpriority_process(Some(me), nice) {
                            tracing::warn!("could not lower the key derivation's priority: {e}");
                        }
                    }
                    work();
                })
                .map(thread::JoinHandle::join);
            if let Err(e) = ran {
                tracing::warn!("could not start a key-derivation thread: {e}");
            }
        });
    }
}

/// The load that stays: the least of a few readings a millisecond apart. Other people's
/// CPU-bound work is runnable at every reading; a client of keyhatch's own on this host (the
/// proxy, a script) is runnable only between its requests, and would otherwise make a free core
/// look taken.
fn steady_load(load: fn() -> Option<usize>) -> Option<usize> {
    (0..READINGS)
        .map(|n| {
            if n > 0 {
                thread::sleep(std::time::Duration::from_millis(1));
            }
            load()
        })
        .min()
        .flatten()
}

/// How many times the load is read before a job (`steady_load`).
const READINGS: usize = 5;

/// The nice value for a job when `others` threads besides this one are runnable on `cores`
/// cores: the lowest priority while a core is free for it, the person's own when every core is
/// taken (`None`, the count unknown: the lowest).
fn nice_for(others: Option<usize>, cores: usize) -> i32 {
    match others {
        Some(others) if others >= cores => 0,
        _ => NICE,
    }
}

/// Threads of other processes runnable on the machine now: `procs_running` of `/proc/stat`
/// less keyhatch's own running threads (the asker, and any serving a request: keyhatch's own
/// work is what the lowest priority is there to keep fast, not a reason to leave it).
fn others_running() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let running: usize = stat
        .lines()
        .find_map(|line| line.strip_prefix("procs_running "))?
        .trim()
        .parse()
        .ok()?;
    Some(running.saturating_sub(own_running().max(1)))
}

/// keyhatch's threads now running or runnable (state `R` in `/proc/self/task/*/stat`).
fn own_running() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 1;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // The state follows the command's closing parenthesis (the command may hold any).
            stat.rfind(')')
                .and_then(|end| stat[end + 1..].split_whitespace().next())
                == Some("R")
        })
        .count()
}

fn stopped() -> AppError {
    AppError::Keygen("the key-derivation threads stopped; try again".into())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    /// The nice value of thread `tid`, from `/proc` (field 19 of `stat`).
    fn nice_of(tid: i32) -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    /// The nice values of a job's own thread and of a thread it starts (the KDF's second block).
    async fn nice_of_a_job(pool: &SlowPool) -> (i32, i32) {
        pool.run(|_| {
            let worker = rustix::thread::gettid().as_raw_nonzero().get();
            let helper = thread::scope(|s| {
                s.spawn(|| nice_of(rustix::thread::gettid().as_raw_nonzero().get()))
                    .join()
                    .unwrap()
            });
            (nice_of(worker), helper)
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn with_a_core_free_jobs_run_at_the_lowest_priority_and_their_threads_inherit_it() {
        let own = rustix::thread::gettid().as_raw_nonzero().get();
        let before = nice_of(own);
        let pool = SlowPool::start_with(1, || Some(0)).unwrap();
        assert_eq!(nice_of_a_job(&pool).await, (NICE, NICE));
        assert_eq!(nice_of(own), before, "the caller's priority is untouched");
    }

    #[tokio::test]
    async fn with_every_core_taken_by_others_jobs_keep_the_persons_priority() {
        static OTHERS: AtomicUsize = AtomicUsize::new(usize::MAX / 2);
        let pool = SlowPool::start_with(1, || Some(OTHERS.load(Ordering::Relaxed))).unwrap();
        assert_eq!(nice_of_a_job(&pool).await, (0, 0));
        // The next job, with a core free again, is low: the priority is the job's, not the
        // worker's.
        OTHERS.store(0, Ordering::Relaxed);
        assert_eq!(nice_of_a_job(&pool).await, (NICE, NICE));
    }

    #[tokio::test]
    async fn a_job_whose_asker_has_gone_reads_no_load_and_starts_no_thread() {
        static READINGS_TAKEN: AtomicUsize = AtomicUsize::new(0);
        let pool = SlowPool::start_with(1, || {
            READINGS_TAKEN.fetch_add(1, Ordering::Relaxed);
            Some(0)
        })
        .unwrap();
        // The worker is held by a first job until `release` is sent.
        let (release, held) = mpsc::channel::<()>();
        let first = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move |_| held.recv().is_ok()).await }
        });
        while READINGS_TAKEN.load(Ordering::Relaxed) < READINGS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Ten askers queue behind it, and hang up. Each is waited for until it is gone: `abort`
        // only asks, and an asker not yet dropped when the worker is released is still there.
        for _ in 0..10 {
            let pool = pool.clone();
            let asker = tokio::spawn(async move { pool.run(|_| 0).await });
            tokio::time::sleep(Duration::from_millis(1)).await;
            asker.abort();
            assert!(asker.await.is_err_and(|e| e.is_cancelled()));
        }
        release.send(()).unwrap();
        assert!(first.await.unwrap().unwrap());
        // One more job, answered: only the first and this one read the load.
        assert_eq!(pool.run(|_| 7).await.unwrap(), 7);
        assert_eq!(READINGS_TAKEN.load(Ordering::Relaxed), 2 * READINGS);
    }

    #[tokio::test]
    async fn a_running_job_is_told_once_its_asker_has_gone() {
        let pool = SlowPool::start_with(1, || Some(0)).unwrap();
        let (started, running) = tokio::sync::oneshot::channel();
        let (told, heard) = mpsc::channel();
        let asker = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move |wanted| {
                    let while_waited_for = wanted();
                    started.send(()).unwrap();
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while wanted() && Instant::now() < deadline {
                        thread::sleep(Duration::from_millis(1));
                    }
                    told.send((while_waited_for, wanted())).unwrap();
                })
                .await
            }
        });
        running.await.unwrap();
        asker.abort();
        assert!(asker.await.is_err_and(|e| e.is_cancelled()));
        let heard =
            tokio::task::spawn_blocking(move || heard.recv_timeout(Duration::from_secs(60)));
        assert_eq!(heard.await.unwrap(), Ok((true, false)));
    }

    #[test]
    fn the_load_decides_the_priority() {
        assert_eq!(nice_for(Some(0), 2), NICE);
        assert_eq!(nice_for(Some(1), 2), NICE);
        assert_eq!(nice_for(Some(2), 2), 0);
        assert_eq!(nice_for(None, 2), NICE);
        let others = others_running().expect("/proc/stat names procs_running");
        assert!(others < 100_000, "{others}");
        // This thread, reading, is running: it is counted as keyhatch's own, not another's.
        assert!(own_running() >= 1);
    }

    #[tokio::test]
    async fn a_job_that_panics_fails_alone_and_the_worker_goes_on() {
        let pool = SlowPool::start(1).unwrap();
        let failed = pool.run(|_| -> i32 { panic!("a bug in a job") }).await;
        assert!(matches!(failed, Err(AppError::Keygen(_))), "{failed:?}");
        assert_eq!(pool.run(|_| 42).await.unwrap(), 42);
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
            pending.push(tokio::spawn(
                async move { pool.run(|_| job()).await.unwrap() },
            ));
        }
        let mut answers = Vec::new();
        for p in pending {
            answers.push(p.await.unwrap());
        }
        answers
    }
}
