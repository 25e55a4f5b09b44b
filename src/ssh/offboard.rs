//! An administrator's removals of keyhatch's keys: all of an account's (offboarding), or those
//! whose `expiry-time` sshd on this node already refuses them for (a sweep). Lines keyhatch did
//! not write are never judged, and stay byte for byte.
//!
//! sshd reads `expiry-time` with `parse_absolute_time` (OpenSSH's `misc.c`): `YYYYMMDD[HHMM[SS]]`
//! in the node's local time (`mktime`, with daylight saving not asked for); a trailing `Z` or
//! `UTC` only from OpenSSH 9.1 (before, such a value is invalid and the whole line refused). It
//! refuses a key once the time is strictly before now (`auth-options.c`). A key is swept only
//! once that holds, whatever sshd's version: before 9.1 a `Z` key is refused from the start,
//! and is swept once its time, read as UTC, has passed too.

use super::authorized_keys::KeyLine;
use super::expiry::Expiry;
use super::listing::ListedKey;
use super::operations::Error;
use super::store::AuthorizedKeys;
use super::tag::Tag;

/// How this node's sshd reads `expiry-time`, and the time now.
pub struct SshdClock<'a> {
    /// Now, in seconds since 1970.
    pub now: i64,
    /// Whether sshd reads a trailing `Z` or `UTC` (OpenSSH 9.1 and later); `None` when its
    /// version is unknown.
    pub reads_utc: Option<bool>,
    /// The node's local time as sshd converts it: the instant (seconds since 1970) of a time
    /// written without a zone, given as though it were UTC; `None` when it cannot be converted.
    pub local: &'a dyn Fn(i64) -> Option<i64>,
}

/// Which of keyhatch's keys go.
pub enum Which<'a> {
    /// Every one.
    All,
    /// Those sshd on this node refuses for their `expiry-time`, at the clock's now.
    Expired(&'a SshdClock<'a>),
}

/// One of keyhatch's keys, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The key, as the list shows it.
    pub key: ListedKey,
    /// Whether it was removed (or, in a dry run, would be).
    pub removed: bool,
    /// Why a key with an `expiry-time` was left, when it is worth saying.
    pub note: Option<String>,
    /// It was to go, but a line keyhatch did not write holds the same key, so removing
    /// keyhatch's would not stop it: both lines are left, and the removal has failed.
    pub held_elsewhere: bool,
}

/// Removes `which` of the keys tagged `tag` from the store's file in one rewrite (none with
/// `dry_run`), every other byte kept; returns each of keyhatch's keys, in file order, with
/// what became of it.
pub fn remove_keys(
    store: &AuthorizedKeys,
    tag: &Tag,
    which: &Which<'_>,
    dry_run: bool,
) -> Result<Vec<Judged>, Error> {
    let judged = store.remove_ours_where(tag, dry_run, |line: &KeyLine<'_>, elsewhere| {
        let (removed, note) = match which {
            Which::All => (true, None),
            Which::Expired(clock) => refused_for_expiry(line.options, clock),
        };
        let key = ListedKey::from(line);
        if removed && elsewhere {
            let note = "left: a line keyhatch did not write (in this file, or in \
                        authorized_keys2 beside it, which sshd reads too) holds the same key, so \
                        removing keyhatch's would not stop it; remove that line yourself"
                .to_owned();
            return (false, (key, Some(note), true));
        }
        (removed, (key, note, false))
    })?;
    Ok(judged
        .into_iter()
        .map(|(removed, (key, note, held_elsewhere))| Judged {
            key,
            removed,
            note,
            held_elsewhere,
        })
        .collect())
}

/// Whether sshd, reading `options` as `clock` says, refuses the key now for its `expiry-time`
/// (the earliest, when there are several), and why a key with one is left, when worth saying.
/// A value keyhatch cannot read as sshd does leaves the key.
pub fn refused_for_expiry(options: &[u8], clock: &SshdClock<'_>) -> (bool, Option<String>) {
    let mut earliest: Option<i64> = None;
    let mut utc_unread = false;
    for expiry in Expiry::all_of(options) {
        let expiry = match expiry {
            Ok(expiry) => expiry,
            Err(value) => {
                return (
                    false,
                    Some(format!(
                        "left: its expiry-time \"{value}\" is not a time keyhatch reads"
                    )),
                );
            }
        };
        let at = if expiry.is_utc() {
            utc_unread |= clock.reads_utc == Some(false);
            expiry.as_written()
        } else {
            let Some(at) = (clock.local)(expiry.as_written()) else {
                return (
                    false,
                    Some(format!(
                        "left: its expiry-time on {} cannot be read in this node's time zone",
                        expiry.date()
                    )),
                );
            };
            at
        };
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    match earliest {
        Some(at) if clock.now > at => (true, None),
        Some(_) if utc_unread => (
            false,
            Some(
                "left: its expiry-time is in UTC (Z), which this sshd (before OpenSSH 9.1) \
                 cannot read, so it refuses the key already; swept once that time has passed"
                    .to_owned(),
            ),
        ),
        _ => (false, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::authorized_keys;
    use crate::ssh::testing::{MIXED, home_with, random_key};

    fn tag() -> Tag {
        Tag::parse("fileglancer").unwrap()
    }

    #[test]
    fn all_of_keyhatchs_keys_go_in_one_rewrite_and_every_other_byte_stays() {
        let home = home_with(MIXED);
        let file = home.path().join(".ssh/authorized_keys");
        let store = AuthorizedKeys::in_home(home.path());
        let ours: Vec<usize> = authorized_keys::parse(MIXED)
            .keys
            .iter()
            .filter(|k| k.is_tagged(&tag()))
            .map(|k| k.number)
            .collect();
        assert_eq!(ours.len(), 5);
        let judged = remove_keys(&store, &tag(), &Which::All, true).unwrap();
        assert_eq!(judged.len(), 5);
        assert!(judged.iter().all(|j| j.removed));
        assert_eq!(
            std::fs::read(&file).unwrap(),
            MIXED,
            "a dry run writes nothing"
        );
        remove_keys(&store, &tag(), &Which::All, false).unwrap();
        let after = std::fs::read(&file).unwrap();
        assert_eq!(after, authorized_keys::without_lines(MIXED, &ours));
        assert!(
            remove_keys(&store, &tag(), &Which::All, false)
                .unwrap()
                .is_empty()
        );
        assert_eq!(std::fs::read(&file).unwrap(), after);
    }

    #[test]
    fn only_keys_sshd_refuses_for_their_time_are_swept() {
        let (_, gone) = random_key(r#"restrict,expiry-time="20200101""#, "fileglancer old");
        let (_, kept) = random_key(r#"restrict,expiry-time="20990101""#, "fileglancer new");
        let (_, foreign) = random_key(r#"expiry-time="20200101""#, "alice@laptop");
        let contents = format!("{gone}\n{foreign}\n{kept}\n");
        let home = home_with(contents.as_bytes());
        let store = AuthorizedKeys::in_home(home.path());
        let local = |t: i64| Some(t);
        let clock = SshdClock {
            now: 20_878 * 86_400,
            reads_utc: Some(true),
            local: &local,
        };
        let judged = remove_keys(&store, &tag(), &Which::Expired(&clock), false).unwrap();
        assert_eq!(
            judged.iter().map(|j| j.removed).collect::<Vec<_>>(),
            [true, false]
        );
        let after = std::fs::read_to_string(home.path().join(".ssh/authorized_keys")).unwrap();
        assert_eq!(after, format!("{foreign}\n{kept}\n"));
    }

    #[test]
    fn a_dry_run_fails_where_the_removal_would_on_a_linked_file() {
        let target = home_with(MIXED);
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        std::os::unix::fs::symlink(
            target.path().join(".ssh/authorized_keys"),
            home.path().join(".ssh/authorized_keys"),
        )
        .unwrap();
        let store = AuthorizedKeys::in_home(home.path());
        for dry_run in [true, false] {
            let e = remove_keys(&store, &tag(), &Which::All, dry_run).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        let read = std::fs::read(target.path().join(".ssh/authorized_keys")).unwrap();
        assert_eq!(read, MIXED);
    }

    /// 2027-03-01T00:00:00 read as UTC.
    const MARCH_FIRST: i64 = 20_878 * 86_400;

    fn clock(now: i64, reads_utc: Option<bool>, offset: i64) -> (i64, Option<bool>, i64) {
        (now, reads_utc, offset)
    }

    /// Judges `options` at `now`, sshd reading a `Z` as `reads_utc` says, on a node `offset`
    /// seconds ahead of UTC.
    fn judge(options: &str, (now, reads_utc, offset): (i64, Option<bool>, i64)) -> bool {
        let local = move |written: i64| Some(written - offset);
        let clock = SshdClock {
            now,
            reads_utc,
            local: &local,
        };
        refused_for_expiry(options.as_bytes(), &clock).0
    }

    #[test]
    fn a_day_without_a_zone_passes_at_the_nodes_midnight_and_only_strictly_after() {
        let opts = r#"restrict,expiry-time="20270301""#;
        assert!(!judge(opts, clock(MARCH_FIRST, Some(true), 0)));
        assert!(judge(opts, clock(MARCH_FIRST + 1, Some(true), 0)));
        // Nine hours ahead of UTC (Tokyo): midnight there is 15:00 the day before in UTC.
        let tokyo = 9 * 3600;
        assert!(judge(
            opts,
            clock(MARCH_FIRST - tokyo + 1, Some(true), tokyo)
        ));
        // Five hours behind (New York): not before 05:00 UTC.
        let new_york = -5 * 3600;
        assert!(!judge(opts, clock(MARCH_FIRST + 3600, None, new_york)));
        assert!(judge(
            opts,
            clock(MARCH_FIRST - new_york + 1, None, new_york)
        ));
    }

    #[test]
    fn a_z_time_is_utc_and_before_openssh_9_1_is_said_to_be_refused_already() {
        let opts = r#"expiry-time="20270301Z""#;
        let tokyo = 9 * 3600;
        for reads_utc in [Some(true), Some(false), None] {
            assert!(!judge(opts, clock(MARCH_FIRST, reads_utc, tokyo)));
            assert!(judge(opts, clock(MARCH_FIRST + 1, reads_utc, tokyo)));
        }
        let local = |t: i64| Some(t);
        let old = SshdClock {
            now: MARCH_FIRST - 10,
            reads_utc: Some(false),
            local: &local,
        };
        let (removed, note) = refused_for_expiry(opts.as_bytes(), &old);
        assert!(!removed);
        assert!(note.unwrap().contains("before OpenSSH 9.1"));
        let new = SshdClock {
            reads_utc: Some(true),
            ..old
        };
        assert_eq!(refused_for_expiry(opts.as_bytes(), &new), (false, None));
    }

    #[test]
    fn the_earliest_of_several_counts_and_an_unreadable_one_keeps_the_key() {
        let now = clock(MARCH_FIRST + 1, Some(true), 0);
        assert!(judge(
            r#"expiry-time="20990101",expiry-time="20270301""#,
            now
        ));
        assert!(!judge(
            r#"expiry-time="20270301",expiry-time="2027-03-01""#,
            now
        ));
        assert!(!judge("restrict,pty", now));
        let none = |_: i64| None;
        let unknown_zone = SshdClock {
            now: MARCH_FIRST + 86_400,
            reads_utc: Some(true),
            local: &none,
        };
        assert!(!refused_for_expiry(br#"expiry-time="20270301""#, &unknown_zone).0);
    }
}
