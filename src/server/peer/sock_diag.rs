//! One socket's owner from the kernel over netlink (`NETLINK_SOCK_DIAG`, `inet_diag(7)`): an
//! exact lookup by the connection's four addresses, microseconds whatever else is connected.
//! Each thread keeps its netlink socket between lookups (two per accepted connection).

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use super::table::Found;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};

/// `SOCK_DIAG_BY_FAMILY`, the request type; `NLMSG_ERROR`, the kernel's refusal.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
/// Where `idiag_uid` sits in the answer: after the 16-byte message header, the four bytes
/// of family, state, timer and retransmits, the 48-byte socket id, and expires, rqueue and
/// wqueue. `idiag_inode` follows it.
const UID_AT: usize = 16 + 4 + 48 + 12;
const INODE_AT: usize = UID_AT + 4;
/// `idiag_state` after the message header and the family; the socket id's ports after the
/// four bytes of family, state, timer and retransmits.
const STATE_AT: usize = 16 + 1;
const SPORT_AT: usize = 16 + 4;
/// TCP states in the kernel's numbering.
const TCP_ESTABLISHED: u8 = 1;
const TCP_CLOSE_WAIT: u8 = 8;
const TCP_LISTEN: u8 = 10;

/// What the kernel knows of the TCP socket whose own end is `peer` and other end `local`.
pub(super) fn owner(peer: SocketAddr, local: SocketAddr) -> io::Result<Found> {
    parse(&ask(peer, local)?, peer, local)
}

/// The inode of keyhatch's own end of the connection (`local` to `peer`) while it is still
/// connected (established, or closed by the peer after its request); `None` otherwise.
pub(super) fn connected(local: SocketAddr, peer: SocketAddr) -> io::Result<Option<u32>> {
    let answer = ask(local, peer)?;
    let kind = answer.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let port = |at: usize| {
        answer
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let connected = kind == Some(SOCK_DIAG_BY_FAMILY)
        && matches!(
            answer.get(STATE_AT),
            Some(&TCP_ESTABLISHED | &TCP_CLOSE_WAIT)
        )
        && port(SPORT_AT) == Some(local.port())
        && port(SPORT_AT + 2) == Some(peer.port());
    let inode = answer
        .get(INODE_AT..INODE_AT + 4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    Ok(inode.filter(|_| connected))
}

thread_local! {
    /// This thread's netlink socket, opened at its first lookup and dropped after any failure.
    static SOCKET: RefCell<Option<OwnedFd>> = const { RefCell::new(None) };
    /// The sequence number of this thread's last request.
    static SEQUENCE: Cell<u32> = const { Cell::new(0) };
}

/// Answers older than the one awaited that a lookup reads past, at most: a lookup reads its
/// answer after each request, so there are none unless one was cut short.
const STALE_ANSWERS: usize = 4;

/// The kernel's answer about the socket whose own end is `from` and other end `to`.
fn ask(from: SocketAddr, to: SocketAddr) -> io::Result<Vec<u8>> {
    let sequence = next_sequence();
    with_socket(|fd| exchange(fd, &request(from, to, sequence), sequence))
}

/// The next sequence number of this thread's requests.
fn next_sequence() -> u32 {
    SEQUENCE.with(|last| {
        last.set(last.get().wrapping_add(1));
        last.get()
    })
}

/// `work` on this thread's netlink socket, opened if it is not yet; a socket that failed is
/// closed, and the next lookup opens another.
fn with_socket<T>(work: impl FnOnce(&OwnedFd) -> io::Result<T>) -> io::Result<T> {
    SOCKET.with_borrow_mut(|kept| {
        let fd = match kept {
            Some(fd) => fd,
            None => kept.insert(socket(
                AddressFamily::Netlink,
                SockType::Datagram,
                SockFlag::SOCK_CLOEXEC,
                SockProtocol::NetlinkSockDiag,
            )?),
        };
        let done = work(fd);
        if done.is_err() {
            *kept = None;
        }
        done
    })
}

/// Asks about the socket from `from` to `to` and leaves the answer unread, as a lookup cut
/// short would.
#[cfg(test)]
pub(super) fn ask_and_leave_unread(from: SocketAddr, to: SocketAddr) {
    let request = request(from, to, next_sequence());
    with_socket(|fd| {
        sendto(
            fd.as_raw_fd(),
            &request,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        Ok(())
    })
    .unwrap();
}

/// Sends `request` on `fd` and reads the answer numbered `sequence`. The kernel answers while
/// it takes the request, so the answer is there when `sendto` returns: reading never waits.
fn exchange(fd: &OwnedFd, request: &[u8], sequence: u32) -> io::Result<Vec<u8>> {
    let fd = fd.as_raw_fd();
    sendto(fd, request, &NetlinkAddr::new(0, 0), MsgFlags::empty())?;
    let mut answer = [0u8; 512];
    for _ in 0..=STALE_ANSWERS {
        let len = recv(fd, &mut answer, MsgFlags::MSG_DONTWAIT)?;
        let answered = answer
            .get(8..12)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        if answered == Some(sequence) {
            return Ok(answer[..len].to_vec());
        }
    }
    Err(io::Error::other("no sock_diag answer to this request"))
}

/// `nlmsghdr` + `inet_diag_req_v2` asking for exactly one socket, in any state.
fn request(peer: SocketAddr, local: SocketAddr, sequence: u32) -> Vec<u8> {
    let family = match peer.ip() {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    };
    let mut message = Vec::with_capacity(72);
    message.extend_from_slice(&72u32.to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    message.extend_from_slice(&sequence.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    message.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
    message.extend_from_slice(&u32::MAX.to_ne_bytes()); // every TCP state
    message.extend_from_slice(&peer.port().to_be_bytes());
    message.extend_from_slice(&local.port().to_be_bytes());
    for ip in [peer.ip(), local.ip()] {
        let mut address = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => address[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => address.copy_from_slice(&v6.octets()),
        }
        message.extend_from_slice(&address);
    }
    // The interface a link-local address belongs to; any other is found on any.
    let interface = match peer {
        SocketAddr::V6(v6) => v6.scope_id(),
        SocketAddr::V4(_) => 0,
    };
    message.extend_from_slice(&interface.to_ne_bytes());
    message.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
    message
}

/// The socket in the kernel's answer: held by a uid, closed (inode 0: kept by the kernel
/// only to end the connection, reported as uid 0), or not there. The kernel falls back to
/// a *listening* socket on `peer`'s port when the connecting one is gone: a port another
/// account reserved, connected from, and reset, with the owner's server listening there
/// since, would pass for the owner's. Only the connecting socket itself counts.
fn parse(answer: &[u8], peer: SocketAddr, local: SocketAddr) -> io::Result<Found> {
    let kind = answer.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let word = |at: usize| {
        answer
            .get(at..at + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| io::Error::other("a short sock_diag answer"))
    };
    match kind {
        Some(SOCK_DIAG_BY_FAMILY) => {
            let (uid, inode) = (word(UID_AT)?, word(INODE_AT)?);
            let port = |at: usize| {
                answer
                    .get(at..at + 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
            };
            let connecting = answer.get(STATE_AT) != Some(&TCP_LISTEN)
                && port(SPORT_AT) == Some(peer.port())
                && port(SPORT_AT + 2) == Some(local.port());
            Ok(if inode == 0 || !connecting {
                Found::Closed
            } else {
                Found::Held(uid)
            })
        }
        Some(NLMSG_ERROR) => {
            let errno = answer
                .get(16..20)
                .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            if errno == -(nix::libc::ENOENT) {
                Ok(Found::NotHere)
            } else {
                Err(io::Error::from_raw_os_error(-errno))
            }
        }
        _ => Err(io::Error::other("an unexpected sock_diag answer")),
    }
}
