//! A person's changes: each counted against their hour, audited, and under way (a stop waits
//! for it) on a task of its own.

use leptos::server_fn::error::ServerFnErrorErr;

use super::context::{AppState, ClientAddr, answer_with_status, record};
use crate::api::limits::Limits;
use crate::api::person::Person;
use crate::api::underway::Task;
use crate::audit::Audit;
use crate::error::AppError;

/// Runs `work`, a change by `person`, on a task of its own, so that it goes to its end and is
/// recorded in the audit log as `action` (with the fingerprint it returns beside its result)
/// even when the client hangs up meanwhile; returns its result, with the response's status set
/// from an error. Refused (429), and not run, once the person has made as many changes in the
/// last hour as their limits allow; one that fails is not counted.
pub async fn finished<T, W>(
    state: &AppState,
    person: &Person,
    action: &'static str,
    work: W,
) -> Result<T, AppError>
where
    W: Future<Output = (Result<T, AppError>, Option<String>)> + Send + 'static,
    T: Send + 'static,
{
    let changes = Changes::of(state, person);
    let task = tokio::spawn(async move { changes.make(action, work).await });
    let result = match task.await {
        Ok(result) => result,
        Err(e) => Err(AppError::Request(ServerFnErrorErr::ServerError(
            e.to_string(),
        ))),
    };
    result.map_err(answer_with_status)
}

/// What a person's changes are counted against and audited in, taken from the request being
/// served, so that a task of its own can make them after the client has gone; under way (a
/// stop waits for it) until the last clone is dropped.
#[derive(Clone)]
pub struct Changes {
    audit: Audit,
    account: String,
    remote: ClientAddr,
    limits: Limits,
    uid: u32,
    task: std::sync::Arc<Task>,
}

impl Changes {
    /// The changes of `person`, in the request being served.
    pub fn of(state: &AppState, person: &Person) -> Self {
        let (account, remote) = (person.account.user.clone(), ClientAddr::current());
        Self {
            audit: state.audit.clone(),
            task: std::sync::Arc::new(state.underway.start(&account, &remote.0)),
            account,
            remote,
            limits: person.limits.clone(),
            uid: person.uid,
        }
    }

    /// Marks `action` as this task's change to come, so that a stop before it begins names it
    /// as unfinished too (red team: the revoke a Platform update asked for went unwritten when
    /// the stop came between the two).
    pub fn expect(&self, action: &'static str) {
        self.task.begin(action);
    }

    /// Runs `work`, one change, here: refused (429), and not run, once the person has made as
    /// many changes in the last hour as their limits allow; counted unless it fails; recorded
    /// in the audit log as `action`, with the fingerprint it returns beside its result.
    pub async fn make<T>(
        &self,
        action: &'static str,
        work: impl Future<Output = (Result<T, AppError>, Option<String>)>,
    ) -> Result<T, AppError> {
        let change = match self.limits.reserve_change(self.uid) {
            Ok(change) => change,
            Err(refused) => {
                let refused = Err(refused);
                self.record(action, None, &refused);
                return refused;
            }
        };
        if !self.task.begin(action) {
            let stopping = Err(AppError::Busy(
                "keyhatch is stopping; nothing was changed. Try again in a moment".into(),
            ));
            self.record(action, None, &stopping);
            return stopping;
        }
        let (result, fingerprint) = work.await;
        if result.is_ok() {
            change.keep();
        }
        self.task
            .end(|| self.record(action, fingerprint.as_deref(), &result));
        result
    }

    fn record<T>(
        &self,
        action: &'static str,
        fingerprint: Option<&str>,
        result: &Result<T, AppError>,
    ) {
        record(
            &self.audit,
            &self.account,
            &self.remote,
            action,
            fingerprint,
            result,
        );
    }
}
