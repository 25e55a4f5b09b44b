//! Site mode's checks on who may be believed and who may be served, made once at start so a
//! setting that would let any account of this host name anyone stops keyhatch with a sentence.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::error::SettingsError;

/// The kernel's overflow uid when `/proc/sys/kernel/overflowuid` cannot be read.
const DEFAULT_OVERFLOW_UID: u32 = 65534;

/// The kernel's overflow uid (`nobody`): the owner the kernel reports for every uid it cannot
/// map, on NFS and in user namespaces.
pub(super) fn overflow_uid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(DEFAULT_OVERFLOW_UID)
}

/// Refuses a `max-uid` below `min-uid`: nobody would be served.
pub(super) fn check_uid_range(min_uid: u32, max_uid: Option<u32>) -> Result<(), SettingsError> {
    match max_uid {
        Some(max) if max < min_uid => Err(SettingsError::Site(format!(
            "max-uid {max} is below min-uid {min_uid}: nobody would be served"
        ))),
        _ => Ok(()),
    }
}

/// The trusted proxy addresses in the form connections are compared in (an IPv4-mapped IPv6
/// address as plain IPv4), after refusing any address every account of this host can connect
/// from without its uid being checked: an address of one of this host's interfaces (`own`), or
/// loopback when no `proxy-user` is set.
pub(super) fn check_trusted_proxies(
    trusted: Vec<IpAddr>,
    own: &[IpAddr],
    has_proxy_user: bool,
) -> Result<Vec<IpAddr>, SettingsError> {
    let site = |message: String| Err(SettingsError::Site(message));
    let mut checked = Vec::with_capacity(trusted.len());
    for written in trusted {
        let ip = written.to_canonical();
        if ip.is_unspecified() || ip.is_multicast() {
            return site(format!(
                "trusted-proxies {written} is not an address a proxy connects from"
            ));
        }
        if ip.is_loopback() {
            if !has_proxy_user {
                return site(format!(
                    "trusted-proxies {written} is a loopback address, which every account on this \
                     host can connect from: set proxy-user too, so keyhatch checks that the \
                     connection is the proxy's account"
                ));
            }
        } else if own.contains(&ip) {
            return site(format!(
                "trusted-proxies {written} is an address of this host, which every account on \
                 this host can connect from, and keyhatch cannot tell which account did there. \
                 Give the proxy keyhatch's Unix socket (socket and proxy-user), or have it connect \
                 from 127.0.0.1 with proxy-user set"
            ));
        }
        checked.push(ip);
    }
    Ok(checked)
}

/// Whether `ip` is one of this host's own addresses now, as [`own_addresses`] found them at most
/// a second ago: asking the kernel takes about 0.1 ms, too much for every request.
pub fn is_own_address(ip: IpAddr) -> bool {
    static SEEN: Mutex<Option<(Instant, Vec<IpAddr>)>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    let fresh = seen
        .as_ref()
        .is_some_and(|(at, _)| at.elapsed() < Duration::from_secs(1));
    if !fresh {
        *seen = Some((Instant::now(), own_addresses()));
    }
    seen.as_ref().is_some_and(|(_, own)| own.contains(&ip))
}

/// This host's own addresses: every interface's, IPv4-mapped ones as IPv4.
pub fn own_addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    interfaces
        .filter_map(|interface| {
            let address = interface.address?;
            let ip = match (address.as_sockaddr_in(), address.as_sockaddr_in6()) {
                (Some(v4), _) => IpAddr::V4(v4.ip()),
                (_, Some(v6)) => IpAddr::V6(v6.ip()),
                _ => return None,
            };
            Some(ip.to_canonical())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_of_this_host_is_refused_as_a_trusted_proxy() {
        let own = own_addresses();
        assert!(own.contains(&ip("127.0.0.1")), "{own:?}");
        for address in own.iter().filter(|a| !a.is_loopback()) {
            let err = check_trusted_proxies(vec![*address], &own, true).unwrap_err();
            assert!(err.to_string().contains("an address of this host"), "{err}");
        }
        let err = check_trusted_proxies(vec![ip("10.9.8.7")], &[ip("10.9.8.7")], true).unwrap_err();
        assert!(err.to_string().contains("Unix socket"), "{err}");
        // The IPv4-mapped form of the same address is the same address.
        let err = check_trusted_proxies(vec![ip("::ffff:10.9.8.7")], &[ip("10.9.8.7")], true)
            .unwrap_err();
        assert!(err.to_string().contains("an address of this host"), "{err}");
    }

    #[test]
    fn loopback_is_trusted_only_with_the_proxys_account() {
        for loopback in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
            let err = check_trusted_proxies(vec![ip(loopback)], &[], false).unwrap_err();
            assert!(
                err.to_string().contains("set proxy-user"),
                "{loopback}: {err}"
            );
        }
        assert_eq!(
            check_trusted_proxies(vec![ip("::ffff:127.0.0.1")], &[], true).unwrap(),
            vec![ip("127.0.0.1")]
        );
    }

    #[test]
    fn another_hosts_address_is_kept_in_the_form_connections_have() {
        assert_eq!(
            check_trusted_proxies(vec![ip("::ffff:10.0.0.5"), ip("fd00::5")], &[], false).unwrap(),
            vec![ip("10.0.0.5"), ip("fd00::5")]
        );
        for bad in ["0.0.0.0", "::", "224.0.0.1"] {
            assert!(
                check_trusted_proxies(vec![ip(bad)], &[], true).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn this_hosts_addresses_are_its_own_and_others_are_not() {
        for address in own_addresses() {
            assert!(is_own_address(address), "{address}");
        }
        assert!(!is_own_address(ip("198.51.100.77")));
    }

    #[test]
    fn max_uid_below_min_uid_is_refused() {
        assert!(check_uid_range(1000, Some(999)).is_err());
        assert!(check_uid_range(1000, Some(1000)).is_ok());
        assert!(check_uid_range(1000, None).is_ok());
    }

    #[test]
    fn the_overflow_uid_is_the_kernels() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/overflowuid").unwrap();
        assert_eq!(overflow_uid().to_string(), kernel.trim());
    }
}
