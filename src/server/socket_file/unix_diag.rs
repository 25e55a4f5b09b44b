//! Whether a process still holds a Unix socket bound to a name in the filesystem, asked of the
//! kernel over netlink (`NETLINK_SOCK_DIAG`, `unix_diag`, the table `ss -x` reads). A socket
//! nobody listens on refuses connections alike whether its program ended (the name is then
//! stale) or has bound it and not listened yet (as `socat` may): only the kernel's table tells.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const AF_UNIX: u8 = 1;
/// `UDIAG_SHOW_VFS`: each socket's name's device and inode, when it has a name.
const UDIAG_SHOW_VFS: u32 = 0x2;
/// The attribute that carries them, `UNIX_DIAG_VFS`.
const UNIX_DIAG_VFS: u16 = 1;
/// A message's header, then `unix_diag_msg`: its attributes follow.
const HEADER: usize = 16;
const ATTRIBUTES_AT: usize = HEADER + 16;

/// The file a socket may be bound to, as the kernel names it: its filesystem's device in the
/// kernel's own encoding (`MKDEV`: the major number above the low 20 bits) and the low 32 bits
/// of its inode number, all `unix_diag` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct VfsName {
    pub dev: u32,
    pub ino: u32,
}

impl VfsName {
    pub fn new(major: u32, minor: u32, ino: u64) -> Self {
        Self {
            dev: (major << 20) | (minor & 0xf_ffff),
            ino: ino as u32,
        }
    }

    /// The name of the file at `path` (not followed). The device is its filesystem's, as the
    /// mount table gives it, which `unix_diag` reports: `stat` gives another on Btrfs (each
    /// subvolume a device of its own), where a held socket was taken for stale (red team).
    pub fn of(path: &Path) -> io::Result<Self> {
        use rustix::fs::{AtFlags, CWD, StatxFlags};
        let wanted = StatxFlags::INO | StatxFlags::MNT_ID;
        let stat = rustix::fs::statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, wanted)?;
        if !StatxFlags::from_bits_retain(stat.stx_mask).contains(StatxFlags::MNT_ID) {
            return Err(io::Error::other("the kernel gives no mount id"));
        }
        let table = std::fs::read_to_string("/proc/self/mountinfo")?;
        let (major, minor) = device_of_mount(&table, stat.stx_mnt_id)
            .ok_or_else(|| io::Error::other("its mount is not in /proc/self/mountinfo"))?;
        Ok(Self::new(major, minor, stat.stx_ino))
    }
}

/// The filesystem device (`major:minor`, the third field) of the mount numbered `id` (the
/// first) in a `/proc/PID/mountinfo` table.
fn device_of_mount(table: &str, id: u64) -> Option<(u32, u32)> {
    table.lines().find_map(|line| {
        let mut fields = line.split(' ');
        if fields.next()?.parse::<u64>().ok()? != id {
            return None;
        }
        let (major, minor) = fields.nth(1)?.split_once(':')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    })
}

/// Whether a socket of this network namespace is bound to `name`. An error when the kernel
/// will not say (no `unix_diag`).
pub(super) fn is_bound(name: VfsName) -> io::Result<bool> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    let fd = fd.as_raw_fd();
    sendto(fd, &request(), &NetlinkAddr::new(0, 0), MsgFlags::empty())?;
    let mut found = false;
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let len = recv(fd, &mut buffer, MsgFlags::empty())?;
        match read_part(&buffer[..len], name)? {
            Part::More(here) => found |= here,
            Part::Done => return Ok(found),
        }
    }
}

/// `nlmsghdr` + `unix_diag_req` asking for every Unix socket, in any state, with its name's
/// device and inode.
fn request() -> Vec<u8> {
    let mut message = Vec::with_capacity(40);
    message.extend_from_slice(&40u32.to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    message.extend_from_slice(&1u32.to_ne_bytes()); // sequence: one request per socket
    message.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    message.extend_from_slice(&[AF_UNIX, 0, 0, 0]);
    message.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    message.extend_from_slice(&0u32.to_ne_bytes()); // any socket inode
    message.extend_from_slice(&UDIAG_SHOW_VFS.to_ne_bytes());
    message.extend_from_slice(&[0xff; 8]); // no cookie
    message
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    /// Whether this part of the answer held a socket bound to the name; more parts follow.
    More(bool),
    /// The answer is over.
    Done,
}

/// One datagram of the kernel's answer: its messages, each a socket or the end.
fn read_part(part: &[u8], name: VfsName) -> io::Result<Part> {
    let mut found = false;
    let mut at = 0;
    while at + HEADER <= part.len() {
        let len = u32_at(part, at) as usize;
        let kind = u16::from_ne_bytes([part[at + 4], part[at + 5]]);
        if len < HEADER || at + len > part.len() {
            return Err(io::Error::other("a malformed unix_diag answer"));
        }
        let message = &part[at..at + len];
        match kind {
            NLMSG_DONE => return Ok(Part::Done),
            NLMSG_ERROR => {
                let errno = message
                    .get(16..20)
                    .map_or(0, |_| u32_at(message, 16) as i32);
                return Err(io::Error::from_raw_os_error(-errno));
            }
            SOCK_DIAG_BY_FAMILY => found |= vfs(message) == Some(name),
            _ => {}
        }
        at += align(len);
    }
    Ok(Part::More(found))
}

/// The name a socket's message carries, if it is bound to one in the filesystem.
fn vfs(message: &[u8]) -> Option<VfsName> {
    let mut at = ATTRIBUTES_AT;
    while at + 4 <= message.len() {
        let len = u16::from_ne_bytes([message[at], message[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([message[at + 2], message[at + 3]]);
        if len < 4 || at + len > message.len() {
            return None;
        }
        if kind == UNIX_DIAG_VFS && len >= 12 {
            return Some(VfsName {
                ino: u32_at(message, at + 4),
                dev: u32_at(message, at + 8),
            });
        }
        at += align(len);
    }
    None
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Netlink's messages and attributes start on 4-byte boundaries.
fn align(len: usize) -> usize {
    (len + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(path: &Path) -> VfsName {
        VfsName::of(path).unwrap()
    }

    #[test]
    fn a_mounts_device_is_read_from_its_line_of_the_table() {
        let table = "22 1 0:21 / /proc rw - proc proc rw\n\
                     36 22 0:43 /home /home rw,relatime shared:1 - btrfs /dev/vdb rw\n";
        assert_eq!(device_of_mount(table, 36), Some((0, 43)));
        assert_eq!(device_of_mount(table, 3), None);
    }

    #[test]
    fn a_socket_bound_and_not_listening_is_told_from_one_whose_program_ended() {
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let path = dir.path().join("s.sock");
        let fd = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        nix::sys::socket::bind(
            fd.as_raw_fd(),
            &nix::sys::socket::UnixAddr::new(&path).unwrap(),
        )
        .unwrap();
        let name = name_of(&path);
        assert!(is_bound(name).unwrap(), "bound, not listening");
        drop(fd);
        assert!(!is_bound(name).unwrap(), "its program closed it: stale");
        let listener = std::os::unix::net::UnixListener::bind(dir.path().join("l.sock")).unwrap();
        assert!(is_bound(name_of(&dir.path().join("l.sock"))).unwrap());
        drop(listener);
    }

    #[test]
    fn an_answer_cut_short_is_an_error_not_a_socket() {
        let name = VfsName { dev: 1, ino: 2 };
        let mut part = vec![0u8; 16];
        part[..4].copy_from_slice(&64u32.to_ne_bytes());
        part[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        assert!(read_part(&part, name).is_err());
        let mut done = vec![0u8; 20];
        done[..4].copy_from_slice(&20u32.to_ne_bytes());
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        assert_eq!(read_part(&done, name).unwrap(), Part::Done);
    }
}
