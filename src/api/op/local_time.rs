//! Local time as sshd reads it on this node, for an `expiry-time` written without a zone.

use crate::ssh::Date;

/// The instant (seconds since 1970) of `written`, a time written without a zone (given as
/// though it were UTC), as sshd reads it on this node: `mktime` in the process's time zone,
/// with daylight saving not asked for (OpenSSH zeroes the `struct tm`). The helper runs with
/// an empty environment, so that zone is `/etc/localtime`'s, as sshd's under systemd. `None`
/// when `mktime` cannot convert it (sshd then refuses the value).
#[allow(unsafe_code)]
pub(super) fn local_instant(written: i64) -> Option<i64> {
    use nix::libc;
    let (year, month, day) = Date::from_days(written.div_euclid(86_400)).ymd();
    let seconds = written.rem_euclid(86_400);
    let mut tm = libc::tm {
        tm_sec: i32::try_from(seconds % 60).ok()?,
        tm_min: i32::try_from(seconds / 60 % 60).ok()?,
        tm_hour: i32::try_from(seconds / 3600).ok()?,
        tm_mday: i32::try_from(day).ok()?,
        tm_mon: i32::try_from(month).ok()? - 1,
        tm_year: year - 1900,
        tm_wday: 0,
        tm_yday: 0,
        tm_isdst: 0,
        tm_gmtoff: 0,
        tm_zone: std::ptr::null(),
    };
    // SAFETY: mktime reads and normalises the struct tm it is given, a valid one that lives
    // across the call, and reads the time zone (glibc and musl guard it with a lock).
    let instant = unsafe { libc::mktime(&raw mut tm) };
    (instant >= 0).then_some(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test machine's zone is whatever it is: the conversion must agree with libc's own
    /// gmtime offset for that instant, and a day later be a day later.
    #[test]
    fn a_local_time_is_converted_by_the_nodes_zone_and_a_day_is_a_day() {
        let march_first = 20_878 * 86_400;
        let at = local_instant(march_first).unwrap();
        assert!((at - march_first).abs() <= 14 * 3600, "{at}");
        assert_eq!(local_instant(march_first + 86_400).unwrap() - at, 86_400);
    }
}
