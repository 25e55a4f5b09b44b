//! keyhatch's integration tests, in one binary: the real server over HTTP, judged by OpenSSH
//! (`ssh-keygen`, a private `sshd`), under crashes and concurrent writers.
#![cfg(feature = "ssr")]

mod action_handles;
mod admin;
mod attacks;
mod concurrency;
mod crash;
mod deploy;
mod helpers;
mod http;
mod last_used;
mod layers;
mod openssh_compat;
mod operations;
mod packages;
mod process_limit;
mod restrict_login;
mod rotate;
mod seqera;
mod settings;
mod site;
mod site_admin;
mod site_path;
mod sshd_login;
mod terminal;
mod terminal_rotate;
mod threat_model;
