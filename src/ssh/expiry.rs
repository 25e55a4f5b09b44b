//! Key lifetimes, as OpenSSH's `expiry-time="…"` option: written before new keys, read back for
//! the list. sshd refuses a key once the time has come; keyhatch only shows it.
//!
//! keyhatch writes and compares dates in UTC. sshd reads a timespec without a `Z` in the node's
//! time zone, so on a node that is not on UTC a key's last day ends up to a day apart from what
//! the page shows.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::options::{split_options, unquote};

const SECONDS_PER_DAY: i64 = 86_400;

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// The day, or `None` when it is not in the calendar.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        let date = Self { year, month, day };
        (Self::from_days(date.days()) == date).then_some(date)
    }

    /// Today, in UTC.
    pub fn today() -> Self {
        Self::from_days(unix_seconds(SystemTime::now()).div_euclid(SECONDS_PER_DAY))
    }

    /// The day `days` after 1970-01-01 (proleptic Gregorian calendar).
    pub fn from_days(days: i64) -> Self {
        // Howard Hinnant's civil_from_days: eras of 400 years, years starting in March.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    /// Days since 1970-01-01; the inverse of [`Date::from_days`].
    pub fn days(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let month = i64::from(self.month);
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Reads `YYYY-MM-DD`, as a date field sends it; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().splitn(3, '-');
        let mut part = |len: usize| {
            let digits = parts.next().filter(|p| p.len() == len)?;
            digits
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| digits.parse().ok())?
        };
        let (year, month, day) = (part(4)?, part(2)?, part(2)?);
        Self::new(i32::try_from(year).ok()?, month, day)
    }

    /// The year, month (1–12) and day of the month.
    pub fn ymd(self) -> (i32, u32, u32) {
        (self.year, self.month, self.day)
    }

    /// The day `days` later.
    pub fn plus_days(self, days: u32) -> Self {
        Self::from_days(self.days() + i64::from(days))
    }

    /// The day as `expiry-time` writes it: `YYYYMMDD`.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// `YYYY-MM-DD`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// How long a new key lasts, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u32);

impl Lifetime {
    /// The longest lifetime: ten years. Longer is no lifetime at all.
    pub const MAX_DAYS: u32 = 3650;

    /// Accepts 1 to [`Lifetime::MAX_DAYS`] days.
    pub fn days(days: u32) -> Result<Self, InvalidLifetime> {
        if (1..=Self::MAX_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(InvalidLifetime(days))
        }
    }

    /// The first day the key no longer works, for a key made on `today`.
    pub fn ends(self, today: Date) -> Date {
        today.plus_days(self.0)
    }
}

/// A lifetime out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a key's lifetime is 1 to 3650 days, not {0}")]
pub struct InvalidLifetime(pub u32);

/// When sshd stops accepting a key, read from its `expiry-time` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expiry {
    /// The moment, in seconds since 1970 (UTC), or for a time sshd reads in the node's own
    /// zone, that time taken as UTC.
    at: i64,
    /// The day it falls on.
    date: Date,
    /// Written in UTC (`Z` or `UTC` after it), rather than in the node's time zone.
    utc: bool,
}

impl Expiry {
    /// The start of `date`: what `expiry-time="YYYYMMDD"` means.
    pub fn on(date: Date) -> Self {
        Self {
            at: date.days() * SECONDS_PER_DAY,
            date,
            utc: false,
        }
    }

    /// Reads sshd's timespec: `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, with an optional
    /// trailing `Z` or `UTC` (in any case). What sshd reads otherwise (blanks, a day past the
    /// month's end, which it carries into the next) is `None`.
    pub fn parse(spec: &[u8]) -> Option<Self> {
        let upper = spec.to_ascii_uppercase();
        let (spec, utc) = match (upper.strip_suffix(b"UTC"), upper.strip_suffix(b"Z")) {
            (Some(_), _) => (&spec[..spec.len() - 3], true),
            (None, Some(_)) => (&spec[..spec.len() - 1], true),
            (None, None) => (spec, false),
        };
        if !matches!(spec.len(), 8 | 12 | 14) || !spec.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let number = |from: usize, len: usize| -> Option<u32> {
            let digits = spec.get(from..from + len)?;
            Some(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
        };
        let year = i32::try_from(number(0, 4)?).ok()?;
        let date = Date::new(year, number(4, 2)?, number(6, 2)?)?;
        let (hour, minute, second) = (
            number(8, 2).unwrap_or(0),
            number(10, 2).unwrap_or(0),
            number(12, 2).unwrap_or(0),
        );
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let time = i64::from(hour * 3600 + minute * 60 + second);
        Some(Self {
            at: date.days() * SECONDS_PER_DAY + time,
            date,
            utc,
        })
    }

    /// The earliest `expiry-time` in an options field (sshd keeps the earliest), if any.
    pub fn of_options(options: &[u8]) -> Option<Self> {
        Self::all_of(options).filter_map(Result::ok).min()
    }

    /// The earliest `expiry-time` of an options field, or the first one keyhatch cannot read
    /// (as written) when there is one: it could be earlier than any it can.
    pub fn earliest_readable(options: &[u8]) -> Result<Option<Self>, String> {
        let mut earliest: Option<Self> = None;
        for expiry in Self::all_of(options) {
            let expiry = expiry?;
            earliest = Some(earliest.map_or(expiry, |e| e.min(expiry)));
        }
        Ok(earliest)
    }

    /// Each `expiry-time` of an options field, read or as written.
    pub fn all_of(options: &[u8]) -> impl Iterator<Item = Result<Self, String>> + '_ {
        split_options(options)
            .filter(|(name, _)| name.eq_ignore_ascii_case(b"expiry-time"))
            .map(|(_, value)| {
                let value = unquote(value.unwrap_or_default());
                Self::parse(value).ok_or_else(|| String::from_utf8_lossy(value).into_owned())
            })
    }

    /// Whether sshd refuses a key from the start of `date` (in the node's zone) no later than
    /// it refuses it at `self`, wherever the node is: a time written in UTC comes up to 12
    /// hours before the node's midnight, in its furthest zone behind UTC.
    pub fn is_after_start_of(self, date: Date) -> bool {
        let margin = if self.utc { 12 * 3600 } else { 0 };
        Self::on(date).at + margin < self.at
    }

    /// Whether it was written in UTC (a trailing `Z` or `UTC`), rather than in the node's zone.
    pub fn is_utc(self) -> bool {
        self.utc
    }

    /// The time as written (without its zone), in seconds since 1970 as though it were UTC.
    pub fn as_written(self) -> i64 {
        self.at
    }

    /// The day the key stops working.
    pub fn date(self) -> Date {
        self.date
    }

    /// Whether sshd refuses the key at `now`.
    pub fn has_passed(self, now: SystemTime) -> bool {
        unix_seconds(now) >= self.at
    }

    /// The option that makes sshd refuse the key from the start of `date`.
    pub fn option(date: Date) -> String {
        format!("expiry-time=\"{}\"", date.compact())
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn date(y: i32, m: u32, d: u32) -> Date {
        Date::new(y, m, d).unwrap()
    }

    #[test]
    fn days_and_dates_convert_both_ways_across_leap_years_and_centuries() {
        assert_eq!(Date::from_days(0), date(1970, 1, 1));
        assert_eq!(date(2000, 2, 29).days(), 11_016);
        assert_eq!(Date::from_days(20_513), date(2026, 3, 1));
        for days in (-800_000..800_000).step_by(997) {
            assert_eq!(Date::from_days(days).days(), days);
        }
        assert_eq!(Date::new(2026, 2, 29), None);
        assert_eq!(Date::new(2100, 2, 29), None);
        assert!(Date::new(2400, 2, 29).is_some());
        assert_eq!(Date::new(2026, 13, 1), None);
        assert_eq!(Date::parse(" 2027-03-01"), Some(date(2027, 3, 1)));
        for bad in [
            "2027-02-30",
            "2027-3-01",
            "+027-03-01",
            "2027-03-01x",
            "",
            "20270301",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_lifetime_ends_that_many_days_later() {
        let made = date(2026, 12, 1);
        assert_eq!(Lifetime::days(30).unwrap().ends(made), date(2026, 12, 31));
        assert_eq!(Lifetime::days(90).unwrap().ends(made), date(2027, 3, 1));
        assert_eq!(Lifetime::days(365).unwrap().ends(made), date(2027, 12, 1));
        assert_eq!(Lifetime::days(0), Err(InvalidLifetime(0)));
        assert_eq!(Lifetime::days(3651), Err(InvalidLifetime(3651)));
    }

    #[test]
    fn the_option_is_what_sshd_reads() {
        assert_eq!(
            Expiry::option(date(2027, 3, 1)),
            r#"expiry-time="20270301""#
        );
        assert_eq!(date(2027, 3, 1).to_string(), "2027-03-01");
    }

    #[test]
    fn every_timespec_sshd_takes_is_read() {
        let day = Expiry::parse(b"20270301").unwrap();
        assert_eq!(day, Expiry::on(date(2027, 3, 1)));
        let minute = Expiry::parse(b"202703011230").unwrap();
        let second = Expiry::parse(b"20270301123045Z").unwrap();
        assert_eq!(minute.date(), date(2027, 3, 1));
        assert!(day < minute && minute < second);
        for bad in [
            &b"2027031"[..],
            b"20271301",
            b"20270230",
            b"202703012460",
            b"2027-03-01",
            b"",
        ] {
            assert_eq!(Expiry::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_earliest_expiry_of_an_options_field_counts_and_case_does_not() {
        let options = br#"restrict,command="echo \"a,b\", expiry-time=19990101",EXPIRY-TIME="20300101",expiry-time="20280101",pty"#;
        assert_eq!(
            Expiry::of_options(options).unwrap().date(),
            date(2028, 1, 1)
        );
        assert_eq!(Expiry::of_options(b"restrict,pty"), None);
        assert_eq!(Expiry::of_options(b""), None);
    }

    #[test]
    fn a_key_expires_at_the_start_of_its_day() {
        let expiry = Expiry::on(date(2027, 3, 1));
        let midnight = UNIX_EPOCH + Duration::from_secs(20_878 * 86_400);
        assert_eq!(Date::from_days(20_878), date(2027, 3, 1));
        assert!(expiry.has_passed(midnight));
        assert!(!expiry.has_passed(midnight - Duration::from_secs(1)));
    }
}
