//! What the kernel's socket tables (`/proc/net/tcp{,6}`) say of a TCP socket: the fallback
//! where `sock_diag` cannot be asked, and the parsing of their lines.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the kernel's tables say of a TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A process holds it; the uid that owns it.
    Held(u32),
    /// The kernel keeps it only to end the connection (its process closed it, or it is in
    /// TIME_WAIT); it reports such an end as root's, which must not pass for root.
    Closed,
    /// There is no such socket on this host.
    NotHere,
    /// Neither the kernel's answer nor its table could be read.
    Failed,
}

/// The owner of the socket from `peer` to `local`, as [`super::lookup`] finds it, from `/proc/net/tcp{,6}`.
pub(super) fn owner_from_table(peer: SocketAddr, local: SocketAddr) -> io::Result<Found> {
    let table = match peer {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    Ok(owner_in_table(
        &std::fs::read_to_string(table)?,
        peer,
        local,
    ))
}

/// Finds the entry whose local end is `peer` and remote end `local` in a `/proc/net/tcp{,6}`
/// table: its uid column when a process still holds the socket (inode not 0).
pub(super) fn owner_in_table(text: &str, peer: SocketAddr, local: SocketAddr) -> Found {
    text.lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (from, to, uid) = (fields.get(1)?, fields.get(2)?, fields.get(7)?);
            if parse_endpoint(from)? != peer || parse_endpoint(to)? != local {
                return None;
            }
            let held = fields.get(9).is_some_and(|inode| *inode != "0");
            Some(match uid.parse() {
                Ok(uid) if held => Found::Held(uid),
                _ => Found::Closed,
            })
        })
        .unwrap_or(Found::NotHere)
}

/// Parses `0100007F:0BB8` (IPv4) or 32 hex digits and a port (IPv6): each 32-bit word is the
/// kernel's big-endian address word printed as a native integer.
pub(super) fn parse_endpoint(field: &str) -> Option<SocketAddr> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for chunk in addr.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)).to_canonical(),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}
