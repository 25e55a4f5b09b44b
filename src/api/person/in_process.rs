//! The key store of local mode: keyhatch runs as the account, so it works on the file itself,
//! on a blocking thread, passing values as they are.

use crate::api::limits::Permit;
use crate::api::op::Operation;
use crate::error::AppError;
use crate::ssh::AuthorizedKeys;

use super::store::{Answer, Runs};

/// Operations run in this process, on the account's own file.
#[derive(Debug, Clone)]
pub struct InProcess {
    store: AuthorizedKeys,
    uid: u32,
}

impl InProcess {
    /// The store of `store`, the file of the account `uid` (this process's).
    pub fn new(store: AuthorizedKeys, uid: u32) -> Self {
        Self { store, uid }
    }
}

impl<O: Operation> Runs<O> for InProcess {
    fn run(&self, op: O, permit: Permit) -> Answer<'_, O::Reply> {
        let (store, uid) = (self.store.clone(), self.uid);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                op.run(&store, uid)
            })
            .await
            .unwrap_or_else(|e| Err(AppError::Storage(format!("the work failed: {e}"))))
        })
    }
}
