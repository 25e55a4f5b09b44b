//! The key store of site mode: keyhatch runs as root and never touches a person's file itself;
//! each operation runs in a helper process that has taken the person's uid, and only the
//! public line of a key crosses to it.

use crate::api::helper::{Helper, Runner};
use crate::api::limits::Permit;
use crate::api::op::Operation;

use super::store::{Answer, Runs};

/// Operations run by helpers that become one person.
#[derive(Debug, Clone)]
pub struct ViaHelper {
    helper: Helper,
    runner: Runner,
}

impl ViaHelper {
    /// The store that has `runner` start helpers as `helper` says.
    pub fn new(helper: Helper, runner: Runner) -> Self {
        Self { helper, runner }
    }
}

impl<O: Operation> Runs<O> for ViaHelper {
    fn run(&self, op: O, permit: Permit) -> Answer<'_, O::Reply> {
        Box::pin(self.runner.call(&self.helper, op, permit))
    }
}
