//! Which throttled lines to write: at most one a minute for each name and action, and, once a
//! minute with lines left unwritten is over, one line that counts them, so a flood that stops
//! is still told in full.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often a line of the same action against the same name is written: one person's flood
/// of requests refused at once (past `keys-per-hour`, say) must not fill the disk.
pub(super) const EVERY: Duration = Duration::from_secs(60);

/// How many names are counted apart within a minute.
const KEPT: usize = 4096;

/// The most bytes of a name kept to count against: names are short, and one a client chose
/// may be as long as a header (red team: 1,059 names of 50 KB took 50 MB).
const KEY_BYTES: usize = 256;

/// What every further name is counted against once [`KEPT`] are: a line break and `*`,
/// which no name, reason (`\n` and words) or kind of failure (a name, `\n`, words) is.
const SHARED: &str = "\n*";

/// By name and action: when the minute began, how many lines it left unwritten, and the last
/// of them.
#[derive(Default)]
pub(super) struct Throttle(HashMap<(String, String), Minute>);

struct Minute {
    began: Instant,
    unwritten: u64,
    last: Option<Unwritten>,
}

/// The last line a minute left unwritten, its fields already cut as the log cuts them.
pub(super) struct Unwritten {
    pub action: String,
    pub account: String,
    pub remote: String,
    pub fingerprint: Option<String>,
    pub outcome: String,
    pub claimed: bool,
    pub so: &'static str,
    pub count: u64,
}

impl Unwritten {
    /// The line that counts them: the last one's fields, its outcome saying how many.
    pub fn outcome(&self) -> String {
        format!(
            "{} (one of {} {} in the last minute, not written one by one)",
            self.outcome, self.count, self.so
        )
    }

    /// `self`, the last line left unwritten, and `newer` made one: each field the two do not
    /// share is written `*` (the outcome "several"), so the count blames no account, address or
    /// reason for another's (red team: 500 refusals from one address were written with the
    /// address of the one real refusal after them).
    fn and(self, newer: Self) -> Self {
        let same = |a: String, b: String, other: &str| if a == b { a } else { other.to_owned() };
        Self {
            account: same(self.account, newer.account, "*"),
            remote: same(self.remote, newer.remote, "*"),
            fingerprint: self
                .fingerprint
                .filter(|f| newer.fingerprint.as_ref() == Some(f)),
            outcome: same(self.outcome, newer.outcome, "several"),
            claimed: self.claimed || newer.claimed,
            ..newer
        }
    }

    /// The count of the names past [`KEPT`]: it names none of them, as the last one's account
    /// and address would blame it for all the others (red team: a person who came last stood
    /// for 7,034 refusals, two of them theirs).
    fn shared(self) -> Self {
        Self {
            account: "*".to_owned(),
            remote: "*".to_owned(),
            fingerprint: None,
            outcome: format!("from more names than the {KEPT} counted apart"),
            claimed: false,
            ..self
        }
    }
}

impl Throttle {
    /// Whether a line of `action` against `against` is written now, with how many alike were
    /// left unwritten since the last line (`None`: not written, only counted, and `unwritten`
    /// kept as the last of them). Past [`KEPT`] names within a minute, every other name's
    /// count together, under [`SHARED`], whose count is a line of its own; the lines of ended
    /// minutes are handed to `ended`.
    pub fn admit(
        &mut self,
        (against, action): (&str, &str),
        now: Instant,
        ended: &mut Vec<Unwritten>,
        unwritten: impl FnOnce() -> Unwritten,
    ) -> Option<u64> {
        if self.0.len() >= KEPT {
            ended.extend(self.ended(now));
        }
        let mut cut = against.len().min(KEY_BYTES);
        while !against.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut key = (against[..cut].to_owned(), action.to_owned());
        if self.0.len() >= KEPT && !self.0.contains_key(&key) {
            key.0 = SHARED.to_owned();
        }
        match self.0.get_mut(&key) {
            Some(minute) if now.duration_since(minute.began) < EVERY => {
                minute.unwritten += 1;
                let newer = unwritten();
                minute.last = Some(match minute.last.take() {
                    Some(last) => last.and(newer),
                    None => newer,
                });
                None
            }
            Some(minute) if key.0 == SHARED => {
                ended.extend(minute.end(now).map(Unwritten::shared));
                Some(0)
            }
            Some(minute) => {
                minute.began = now;
                minute.last = None;
                Some(std::mem::take(&mut minute.unwritten))
            }
            None => {
                let minute = Minute {
                    began: now,
                    unwritten: 0,
                    last: None,
                };
                self.0.insert(key, minute);
                Some(0)
            }
        }
    }

    /// The lines of every minute over by `now` that left some unwritten, each counting them;
    /// each such line begins a new minute, so a name still flooding gets no more than a line a
    /// minute. Minutes over with nothing unwritten are forgotten.
    pub fn ended(&mut self, now: Instant) -> Vec<Unwritten> {
        let mut lines = Vec::new();
        self.0.retain(|(against, _), minute| {
            if now.duration_since(minute.began) < EVERY {
                return true;
            }
            let Some(line) = minute.end(now) else {
                return false;
            };
            lines.push(if against == SHARED {
                line.shared()
            } else {
                line
            });
            true
        });
        lines
    }
}

#[cfg(test)]
impl Throttle {
    /// The bytes of the names kept to count against.
    pub fn kept_bytes(&self) -> usize {
        self.0
            .keys()
            .map(|(against, action)| against.len() + action.len())
            .sum()
    }
}

impl Minute {
    /// Ends the minute at `now`, beginning the next; the line counting what it left unwritten,
    /// if it left any.
    fn end(&mut self, now: Instant) -> Option<Unwritten> {
        self.began = now;
        let mut last = self.last.take()?;
        last.count = std::mem::take(&mut self.unwritten);
        Some(last)
    }
}
