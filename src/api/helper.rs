//! Site mode's helper process (server only). keyhatch runs as root there, but never opens a
//! person's file as root: each operation runs in a child started from keyhatch's own binary,
//! which first takes the person's supplementary groups, gid and uid (`setgroups`, `setresgid`,
//! `setresuid`), proves it cannot get root back, and only then opens anything. So NFS with
//! `root_squash` works, and a symbolic link the person planted reaches only what the person
//! could reach anyway. The threaded server never changes its own ids (glibc would apply
//! `seteuid` to every thread, and tokio moves tasks between threads).
//!
//! One helper per request: the job goes in on standard input as one JSON line, the answer
//! comes back on standard output; nothing else crosses. [`Runner`] starts them, each within a
//! bound on its time and its person's operations under way.

#![deny(missing_docs)]

mod child;
mod job;
mod runner;

pub use child::serve_one;
pub use job::{HELPER_ARG, Helper, Identity};
pub use runner::{Runner, leave_stops_to_this_process};
