//! The one trait both places a person's keys are kept implement: in this process, or through
//! a helper that has taken the person's uid. Each runs every [`Operation`] with its own answer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::api::limits::Permit;
use crate::api::op::{
    AppendKey, CheckHome, FixPermissions, ListKeys, Operation, OtherKeys, RemoveKeys, RestrictKey,
    RevokeKey,
};
use crate::error::AppError;

/// The answer of an operation under way.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, AppError>> + Send + 'a>>;

/// A key store that runs the operation `O`.
pub trait Runs<O: Operation> {
    /// Runs `op` and answers with its reply; the work holds `permit` (one of the person's
    /// operations under way) until it has ended, even when the caller stops waiting.
    fn run(&self, op: O, permit: Permit) -> Answer<'_, O::Reply>;
}

/// Where a person's keys are kept: a store that runs every operation on them.
pub trait KeyStore:
    Runs<ListKeys>
    + Runs<OtherKeys>
    + Runs<CheckHome>
    + Runs<AppendKey>
    + Runs<RevokeKey>
    + Runs<RestrictKey>
    + Runs<FixPermissions>
    + Runs<RemoveKeys>
    + fmt::Debug
    + Send
    + Sync
{
}

impl<T> KeyStore for T where
    T: Runs<ListKeys>
        + Runs<OtherKeys>
        + Runs<CheckHome>
        + Runs<AppendKey>
        + Runs<RevokeKey>
        + Runs<RestrictKey>
        + Runs<FixPermissions>
        + Runs<RemoveKeys>
        + fmt::Debug
        + Send
        + Sync
{
}
