//! What crosses from the server to a helper: who to become, where their file is, and the
//! operation; and the one error a helper's own failure makes.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::op::Op;
use crate::error::AppError;

/// The first argument that makes keyhatch's binary a helper.
pub const HELPER_ARG: &str = "__keyhatch_helper";

/// The person a helper works for, as the system's user database has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The login name.
    pub user: String,
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// Every group the person is in, the primary one included.
    pub groups: Vec<u32>,
    /// The home directory.
    pub home: PathBuf,
}

impl Identity {
    /// A system account with no home and no groups but its own, for work that opens no file.
    pub fn system(user: &str, uid: u32, gid: u32) -> Self {
        Self {
            user: user.into(),
            uid,
            gid,
            groups: vec![gid],
            home: "/nonexistent".into(),
        }
    }
}

/// A helper to start for one person, with the limits of their file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Helper {
    /// Who.
    pub identity: Identity,
    /// The largest `authorized_keys` read or written.
    pub max_file_size: u64,
    /// How long to wait for another program's lock.
    pub lock_timeout: Duration,
    /// Where keys go below the home (`AuthorizedKeysFile`, `%h`/`%u` not yet expanded).
    pub keys_file: String,
}

/// What the server sends a helper: one line of JSON on its standard input.
#[derive(Serialize, Deserialize)]
pub struct Job {
    /// Whom to become, and their file.
    pub helper: Helper,
    /// What to do there.
    pub request: Op,
}

/// The error of a helper that failed itself (as against the operation it ran), saying `why`.
pub fn failed(why: String) -> AppError {
    AppError::Storage(format!("keyhatch's helper failed: {why}"))
}
