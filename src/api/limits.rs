//! The per-person limits that live in memory (site mode sets them; local mode has none): keys
//! generated and changes made per hour (counted per replica: each replica of a site counts its
//! own), operations under way at once, and the most keyhatch keys a file may hold.

#![deny(missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::declared;
use crate::error::AppError;

/// The window the limit counts in.
const HOUR: Duration = Duration::from_secs(60 * 60);

/// The fewest answers a person may have on their way at once (twice `max-in-flight` when
/// more): a page, its bundle and the calls the page makes as it loads.
const ANSWERS_AT_ONCE: usize = 8;

/// The bounds on one person's work; `None` is no bound.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// How many keys a person may generate per hour.
    pub keys_per_hour: Option<PerHour>,
    /// How many changes a person may make per hour (each one a rewrite and an audit line).
    pub changes_per_hour: Option<PerHour>,
    /// How many calls to Seqera Platform a person may have keyhatch make per hour.
    pub platform_calls_per_hour: Option<PerHour>,
    /// How many operations a person may have under way at once.
    pub in_flight: Option<InFlight>,
    /// How many answers a person may have on their way to them at once.
    pub answers: Option<InFlight>,
    /// The most keyhatch keys a person's file may hold.
    pub max_keys: Option<usize>,
}

impl Limits {
    /// No bound at all (local mode: the account runs keyhatch for itself).
    pub fn none() -> Self {
        Self::default()
    }

    /// The bounds a site sets on each person, as `declared`.
    pub fn site(declared: &declared::Limits) -> Self {
        Self {
            keys_per_hour: Some(PerHour::keys(declared.keys_per_hour)),
            changes_per_hour: Some(PerHour::changes(declared.changes_per_hour)),
            platform_calls_per_hour: Some(PerHour::platform_calls(
                declared.platform_calls_per_hour,
            )),
            in_flight: Some(InFlight::new(declared.max_in_flight)),
            answers: Some(InFlight::answers(
                (2 * declared.max_in_flight).max(ANSWERS_AT_ONCE),
            )),
            max_keys: Some(declared.max_keys),
        }
    }

    /// Starts one operation for the account `uid`, or refuses (429) when it has as many under
    /// way as the bound allows.
    pub fn enter(&self, uid: u32) -> Result<Permit, AppError> {
        self.in_flight
            .as_ref()
            .map_or_else(|| Ok(Permit::unbounded()), |bound| bound.enter(uid))
    }

    /// Starts sending one answer to the account `uid`, held until it is sent or its connection
    /// ends, or refuses (429) when it has as many on their way as the bound allows.
    pub fn send_answer(&self, uid: u32) -> Result<Permit, AppError> {
        self.answers
            .as_ref()
            .map_or_else(|| Ok(Permit::unbounded()), |bound| bound.enter(uid))
    }

    /// Reserves one of the account `uid`'s keys of the hour, or refuses with a sentence (429)
    /// once it has generated as many as the bound allows. Counted by uid, as `max-in-flight`
    /// is: login names that share a uid share its hour (red team: each had an hour of its own).
    pub fn reserve_key(&self, uid: u32) -> Result<Reservation, AppError> {
        self.keys_per_hour
            .as_ref()
            .map_or_else(|| Ok(Reservation::unbounded()), |bound| bound.reserve(uid))
    }

    /// Counts `calls` calls to Seqera Platform by the account `uid`, whatever becomes of them,
    /// or refuses with a sentence (429), counting none, when they would make more in the last
    /// hour than the bound allows. Each goes from keyhatch's one address with a token the
    /// person chooses: failed ones, never counted as changes, made 50 calls a second (red
    /// team); and a request that makes two HTTP calls counts two (red team: the bound let
    /// twice as many through).
    pub fn count_platform_calls(&self, uid: u32, calls: usize) -> Result<(), AppError> {
        if let Some(bound) = &self.platform_calls_per_hour {
            let counted = (0..calls)
                .map(|_| bound.reserve(uid))
                .collect::<Result<Vec<_>, _>>()?;
            counted.into_iter().for_each(Reservation::keep);
        }
        Ok(())
    }

    /// Reserves one of the account `uid`'s changes of the hour, or refuses with a sentence
    /// (429) once it has made as many as the bound allows (red team: adding and revoking one
    /// key in a loop wrote 2.9 MB of audit log a minute). Counted from the start, as keys are,
    /// and given back unless [`Reservation::keep`] says the change was made.
    pub fn reserve_change(&self, uid: u32) -> Result<Reservation, AppError> {
        self.changes_per_hour
            .as_ref()
            .map_or_else(|| Ok(Reservation::unbounded()), |bound| bound.reserve(uid))
    }
}

/// Each account's key times of the last hour, by uid.
type Times = Arc<Mutex<HashMap<u32, VecDeque<Instant>>>>;

/// At most `max` keys generated, changes made or calls to Seqera Platform by each person in
/// any hour.
#[derive(Debug, Clone)]
pub struct PerHour {
    max: usize,
    generated: Times,
    counted: Counted,
}

/// What a [`PerHour`] counts.
#[derive(Debug, Clone, Copy)]
enum Counted {
    Keys,
    Changes,
    PlatformCalls,
}

/// One key (or change, or Platform call) of a person's hour, taken before it is made: counted from the start, so
/// concurrent generates cannot all pass the check; given back on drop unless [`kept`].
///
/// [`kept`]: Reservation::keep
#[derive(Debug)]
pub struct Reservation {
    /// Where the key was counted; `None` when nothing counts.
    generated: Option<Times>,
    uid: u32,
    at: Instant,
    kept: bool,
}

impl PerHour {
    /// A limit of `max` keys generated per person per hour.
    pub fn keys(max: usize) -> Self {
        Self {
            max,
            generated: Arc::default(),
            counted: Counted::Keys,
        }
    }

    /// A limit of `max` changes per person per hour.
    pub fn changes(max: usize) -> Self {
        Self {
            counted: Counted::Changes,
            ..Self::keys(max)
        }
    }

    /// A limit of `max` calls to Seqera Platform per person per hour.
    pub fn platform_calls(max: usize) -> Self {
        Self {
            counted: Counted::PlatformCalls,
            ..Self::keys(max)
        }
    }

    /// Reserves one of the account `uid`'s keys (changes, Platform calls) of the hour, or
    /// refuses, with a sentence saying when to try again, once it has `max` in the last hour.
    pub fn reserve(&self, uid: u32) -> Result<Reservation, AppError> {
        let mut generated = self
            .generated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        // People with no key in the last hour are forgotten, so the map stays small.
        generated.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < HOUR));
        let times = generated.entry(uid).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HOUR)
        {
            times.pop_front();
        }
        if let Some(oldest) = times.front()
            && times.len() >= self.max
        {
            let minutes = (HOUR - now.duration_since(*oldest)).as_secs().div_ceil(60);
            let (setting, done) = match self.counted {
                Counted::Keys => ("keys-per-hour", format!("generated {}", keys(self.max))),
                Counted::Changes => ("changes-per-hour", format!("made {}", changes(self.max))),
                Counted::PlatformCalls => (
                    "platform-calls-per-hour",
                    format!("had keyhatch ask Seqera Platform {} times", self.max),
                ),
            };
            crate::metrics::refused(setting);
            return Err(AppError::TooMany(format!(
                "you {done} in the last hour, the most this site allows; try again in {minutes} minutes"
            )));
        }
        times.push_back(now);
        Ok(Reservation {
            generated: Some(Arc::clone(&self.generated)),
            uid,
            at: now,
            kept: false,
        })
    }
}

impl Reservation {
    /// A reservation where keys are not counted.
    fn unbounded() -> Self {
        Self {
            generated: None,
            uid: 0,
            at: Instant::now(),
            kept: true,
        }
    }

    /// Counts the key for good: it was written.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(generated) = self.generated.as_ref().filter(|_| !self.kept) else {
            return;
        };
        let mut generated = generated.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(times) = generated.get_mut(&self.uid)
            && let Some(at) = times.iter().position(|t| *t == self.at)
        {
            times.remove(at);
        }
    }
}

fn keys(n: usize) -> String {
    if n == 1 {
        "1 key".to_owned()
    } else {
        format!("{n} keys")
    }
}

fn changes(n: usize) -> String {
    if n == 1 {
        "1 change".to_owned()
    } else {
        format!("{n} changes")
    }
}

/// At most `max` operations of each person under way at once (site mode): a helper, a key
/// derivation, a call to Platform. What one person starts cannot fill the server.
#[derive(Debug, Clone)]
pub struct InFlight {
    max: usize,
    counts: Arc<Mutex<HashMap<u32, usize>>>,
    /// Whether it counts answers being sent rather than operations.
    answers: bool,
}

/// One operation under way for a person; cloning shares it, and it ends when the last clone
/// is dropped (a helper that has not yet been reaped keeps one).
#[derive(Debug, Clone)]
pub struct Permit(#[allow(dead_code)] Option<Arc<Entered>>);

impl Permit {
    /// A permit that counts against no bound.
    pub fn unbounded() -> Self {
        Self(None)
    }
}

#[derive(Debug)]
struct Entered {
    counts: Arc<Mutex<HashMap<u32, usize>>>,
    uid: u32,
}

impl InFlight {
    /// A bound of `max` operations per person at once.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            counts: Arc::default(),
            answers: false,
        }
    }

    /// A bound of `max` answers on their way to each person at once. An answer nobody reads
    /// stays in memory until its connection ends (red team: 172 unread pages of a person's
    /// own, 3 GB, ended the service).
    pub fn answers(max: usize) -> Self {
        Self {
            answers: true,
            ..Self::new(max)
        }
    }

    /// Starts one operation for the account `uid`, or refuses with a sentence (429) when it
    /// has `max` under way.
    pub fn enter(&self, uid: u32) -> Result<Permit, AppError> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(uid).or_default();
        if *count >= self.max && self.answers {
            crate::metrics::refused("answers on their way");
            return Err(AppError::TooMany(format!(
                "{} answers are still on their way to you, the most this site allows at once; wait for them to arrive, or close the pages that load keyhatch, then try again",
                self.max
            )));
        }
        if *count >= self.max {
            crate::metrics::refused("max-in-flight");
            return Err(AppError::TooMany(format!(
                "you have {} under way already, the most this site allows at once; wait for them to finish, then try again",
                operations(self.max)
            )));
        }
        *count += 1;
        Ok(Permit(Some(Arc::new(Entered {
            counts: Arc::clone(&self.counts),
            uid,
        }))))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.uid) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.uid);
            }
        }
    }
}

fn operations(n: usize) -> String {
    if n == 1 {
        "1 operation".to_owned()
    } else {
        format!("{n} operations")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_person_gets_their_own_count_up_to_the_limit() {
        let limit = PerHour::keys(2);
        for _ in 0..2 {
            limit.reserve(1000).unwrap().keep();
        }
        let err = limit.reserve(1000).unwrap_err();
        assert!(err.to_string().contains("try again in 60 minutes"), "{err}");
        assert_eq!(err.status(), 429);
        limit.reserve(1001).unwrap().keep();
    }

    #[test]
    fn a_reservation_counts_at_once_and_is_given_back_unless_kept() {
        let limit = PerHour::keys(1);
        let first = limit.reserve(1000).unwrap();
        assert!(limit.reserve(1000).is_err(), "the first is counted already");
        drop(first);
        let again = limit.reserve(1000).unwrap();
        again.keep();
        let err = limit.reserve(1000).unwrap_err();
        assert!(err.to_string().contains("you generated 1 key in"), "{err}");
    }

    #[test]
    fn changes_are_counted_apart_from_keys_and_said_as_changes() {
        let limits = Limits {
            keys_per_hour: Some(PerHour::keys(5)),
            changes_per_hour: Some(PerHour::changes(1)),
            ..Limits::none()
        };
        limits.reserve_change(1000).unwrap().keep();
        let err = limits.reserve_change(1000).unwrap_err();
        assert!(
            err.to_string()
                .contains("you made 1 change in the last hour"),
            "{err}"
        );
        limits.reserve_key(1000).unwrap().keep();
        drop(limits.reserve_change(1001).unwrap());
        limits.reserve_change(1001).unwrap().keep();
    }

    #[test]
    fn without_limits_nothing_is_counted_or_refused() {
        let none = Limits::none();
        let held: Vec<_> = (0..100).map(|_| none.enter(1000).unwrap()).collect();
        let kept: Vec<_> = (0..100).map(|_| none.reserve_key(1000).unwrap()).collect();
        assert_eq!((held.len(), kept.len()), (100, 100));
    }

    #[test]
    fn a_person_has_at_most_max_operations_under_way_until_the_last_clone_goes() {
        let in_flight = InFlight::new(2);
        let a = in_flight.enter(1000).unwrap();
        let a2 = a.clone();
        let b = in_flight.enter(1000).unwrap();
        let err = in_flight.enter(1000).unwrap_err();
        assert_eq!(err.status(), 429);
        assert!(err.to_string().contains("2 operations under way"), "{err}");
        in_flight.enter(1001).unwrap();
        drop(a);
        assert!(in_flight.enter(1000).is_err(), "a clone still holds it");
        drop((a2, b));
        in_flight.enter(1000).unwrap();
    }
}
