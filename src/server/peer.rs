//! Who is on the other end of a connection. Every account on a shared node can reach loopback,
//! and can bind its end to any of the host's own addresses, so neither a token nor the source
//! address tells who connects: for TCP keyhatch asks the kernel for the connecting socket by the
//! connection's four addresses (`sock_diag`, else `/proc/net/tcp` and `tcp6`), and a connection
//! whose socket is found there comes from this host, whatever its addresses; on a Unix socket it
//! reads the peer's credentials (`SO_PEERCRED`). Once per connection, when it is accepted.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// The other end of a connection, as checked when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A TCP connection from this host: the connecting socket was found here, or the connection
    /// came from or to a loopback address or from one of the host's own addresses. The account
    /// that owns the connecting socket, when found.
    Loopback {
        /// The connecting socket's address.
        addr: SocketAddr,
        /// Its owner's uid.
        uid: Option<u32>,
    },
    /// A TCP connection from another host (served only with `--allow-remote`); its account
    /// cannot be known.
    Remote(SocketAddr),
    /// A Unix socket connection and the peer process's uid.
    Unix {
        /// The peer's uid from `SO_PEERCRED`.
        uid: Option<u32>,
    },
}

impl Peer {
    /// Whether a server running as `own_uid` may serve this peer: its own account or root on
    /// this host; a peer on another host is left to the token alone.
    pub fn is_allowed(&self, own_uid: u32) -> bool {
        match self {
            Self::Remote(_) => true,
            Self::Loopback { uid, .. } | Self::Unix { uid } => {
                uid.is_some_and(|uid| uid == own_uid || uid == 0)
            }
        }
    }

    /// The uid of the connecting account, when known.
    pub fn uid(&self) -> Option<u32> {
        match self {
            Self::Loopback { uid, .. } | Self::Unix { uid } => *uid,
            Self::Remote(_) => None,
        }
    }

    /// The address for logs: `127.0.0.1:40312`, or `unix`.
    pub fn address(&self) -> String {
        match self {
            Self::Loopback { addr, .. } | Self::Remote(addr) => addr.to_string(),
            Self::Unix { .. } => "unix".to_owned(),
        }
    }

    /// The peer of the accepted TCP connection from `peer` to `local` whose socket has the
    /// inode `inode`, as the kernel knows it.
    pub fn of_tcp(peer: SocketAddr, local: SocketAddr, inode: u64) -> Self {
        let (peer, local) = (canonical(peer), canonical(local));
        match lookup(peer, local) {
            Found::Held(uid) if still_connected(local, peer, inode) => Self::Loopback {
                addr: peer,
                uid: Some(uid),
            },
            // Reset before keyhatch looked: the socket found may be another's, on its addresses.
            Found::Held(_) => Self::Loopback {
                addr: peer,
                uid: None,
            },
            // Not on this host, as far as the kernel's tables go; but a socket reset at once
            // (SO_LINGER 0) is gone from them too, so the addresses decide.
            Found::NotHere if !is_this_host(peer, local) => Self::Remote(peer),
            // Closed already, gone, or not found out: nobody's, so refused on this host.
            Found::NotHere | Found::Closed | Found::Failed => Self::Loopback {
                addr: peer,
                uid: None,
            },
        }
    }
}

/// `addr` with an IPv4-mapped address as IPv4; an IPv6 address keeps its scope (a link-local
/// one is found only on its interface).
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_none() => addr,
        _ => SocketAddr::new(addr.ip().to_canonical(), addr.port()),
    }
}

/// Whether the connection keyhatch accepted (its socket's inode `inode`) is the one the
/// kernel now files under its addresses, still connected: a connection reset while it waited
/// to be accepted frees its addresses, and another socket may connect from them before
/// keyhatch looks (its server end, not yet accepted, has no inode). From the socket table
/// where netlink is unavailable.
fn still_connected(local: SocketAddr, peer: SocketAddr, inode: u64) -> bool {
    let found = sock_diag::connected(local, peer).or_else(|_| inode_in_table(local, peer));
    found.is_ok_and(|found| found.is_some_and(|found| u64::from(found) == inode))
}

/// The inode of the connected socket from `from` to `to` in `/proc/net/tcp{,6}`.
fn inode_in_table(from: SocketAddr, to: SocketAddr) -> io::Result<Option<u32>> {
    let table = match from {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    Ok(std::fs::read_to_string(table)?
        .lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let connected = matches!(fields.get(3).copied(), Some("01" | "08"));
            (connected
                && parse_endpoint(fields.get(1)?)? == from
                && parse_endpoint(fields.get(2)?)? == to)
                .then(|| fields.get(9)?.parse().ok())
                .flatten()
        }))
}

/// Whether a connection from `peer` to `local` can only come from this host: either end is a
/// loopback address, or `peer` is one of the host's own addresses (an interface's, link-local
/// ones included, or one a socket can be bound to here, which counts addresses routed locally
/// as a whole range, too).
fn is_this_host(peer: SocketAddr, local: SocketAddr) -> bool {
    peer.ip().is_loopback()
        || local.ip().is_loopback()
        || super::settings::is_own_address(peer.ip())
        || std::net::UdpSocket::bind(SocketAddr::new(peer.ip(), 0)).is_ok()
}

/// The address of the connection `request` came on, for logs (`unknown` outside a server).
pub fn remote_of(request: &axum::extract::Request) -> String {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<Peer>>()
        .map_or_else(|| "unknown".to_owned(), |peer| peer.0.address())
}

/// A TCP listener that tells each connection's [`Peer`]; on loopback with its twin on the
/// other family's loopback, the same port (see `server::bind_tcp`).
pub struct TcpPeers {
    /// The address keyhatch was asked to listen on.
    pub listener: TcpListener,
    /// `[::1]` beside `127.0.0.1` (or the reverse), so that `localhost` reaches only keyhatch.
    pub twin: Option<TcpListener>,
}

impl Listener for TcpPeers {
    type Io = TcpStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (TcpStream, Peer) {
        let (stream, addr) = match &mut self.twin {
            Some(twin) => tokio::select! {
                accepted = Listener::accept(&mut self.listener) => accepted,
                accepted = Listener::accept(twin) => accepted,
            },
            None => Listener::accept(&mut self.listener).await,
        };
        let peer = match stream.local_addr() {
            Ok(local) => {
                let inode = rustix::fs::fstat(&stream).map_or(0, |stat| stat.st_ino);
                Peer::of_tcp(addr, local, inode)
            }
            Err(_) => Peer::Loopback {
                addr: SocketAddr::new(addr.ip().to_canonical(), addr.port()),
                uid: None,
            },
        };
        (stream, peer)
    }

    fn local_addr(&self) -> io::Result<Peer> {
        Ok(Peer::Remote(self.listener.local_addr()?))
    }
}

/// A Unix socket listener that tells each connection's [`Peer`].
pub struct UnixPeers(pub UnixListener);

impl Listener for UnixPeers {
    type Io = UnixStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (UnixStream, Peer) {
        let (stream, _) = Listener::accept(&mut self.0).await;
        let uid = stream.peer_cred().ok().map(|cred| cred.uid());
        (stream, Peer::Unix { uid })
    }

    fn local_addr(&self) -> io::Result<Peer> {
        Ok(Peer::Unix { uid: None })
    }
}

/// What the kernel's tables say of a TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
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

/// The TCP socket whose own end is `peer` and other end `local`, on this host. Asks the kernel
/// for that one socket (`sock_diag`); where that is not available, reads the whole socket table,
/// which costs milliseconds on a machine with much memory (the kernel walks every bucket of its
/// connection hash to print it).
fn lookup(peer: SocketAddr, local: SocketAddr) -> Found {
    match sock_diag::owner(peer, local) {
        Ok(found) => found,
        Err(e) => {
            tracing::debug!("sock_diag: {e}; reading the socket table instead");
            owner_from_table(peer, local).unwrap_or_else(|e| {
                tracing::warn!("cannot tell who holds the connection from {peer}: {e}");
                Found::Failed
            })
        }
    }
}

/// [`lookup`] from `/proc/net/tcp{,6}`.
fn owner_from_table(peer: SocketAddr, local: SocketAddr) -> io::Result<Found> {
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
fn owner_in_table(text: &str, peer: SocketAddr, local: SocketAddr) -> Found {
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
fn parse_endpoint(field: &str) -> Option<SocketAddr> {
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

/// One socket's owner from the kernel over netlink (`NETLINK_SOCK_DIAG`, `inet_diag(7)`): an
/// exact lookup by the connection's four addresses, microseconds whatever else is connected.
mod sock_diag {
    use std::io;
    use std::net::{IpAddr, SocketAddr};

    use super::Found;

    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto,
        socket,
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

    /// The kernel's answer about the socket whose own end is `from` and other end `to`.
    fn ask(from: SocketAddr, to: SocketAddr) -> io::Result<Vec<u8>> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )?;
        let request = request(from, to);
        sendto(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &request,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        let mut answer = [0u8; 512];
        let len = recv(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &mut answer,
            MsgFlags::empty(),
        )?;
        Ok(answer[..len].to_vec())
    }

    /// `nlmsghdr` + `inet_diag_req_v2` asking for exactly one socket, in any state.
    fn request(peer: SocketAddr, local: SocketAddr) -> Vec<u8> {
        let family = match peer.ip() {
            IpAddr::V4(_) => AF_INET,
            IpAddr::V6(_) => AF_INET6,
        };
        let mut message = Vec::with_capacity(72);
        message.extend_from_slice(&72u32.to_ne_bytes());
        message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        message.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        message.extend_from_slice(&[0; 8]); // sequence number and port id
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
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;

    use super::*;

    /// A connection on loopback `ip`: the server's address, the client's as the server sees
    /// it, and the client's and server's ends.
    fn connection(ip: &str) -> (SocketAddr, SocketAddr, TcpStream, TcpStream) {
        let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
        let local = listener.local_addr().unwrap();
        let client = TcpStream::connect(local).unwrap();
        let (server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        (local, peer, client, server)
    }

    #[test]
    fn the_owner_of_a_loopback_connection_is_found_in_the_kernels_table() {
        let me = nix::unistd::getuid().as_raw();
        for ip in ["127.0.0.1", "::1"] {
            let (local, peer, _client, _server) = connection(ip);
            assert_eq!(lookup(peer, local), Found::Held(me), "{ip}");
        }
    }

    /// A TCP socket with `SO_REUSEADDR`, bound to `127.0.0.1:port` (0: any), and its port, as
    /// an attacker reserves one.
    fn reusable(port: u16) -> (std::os::fd::OwnedFd, u16) {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn, bind, getsockname,
            setsockopt, socket, sockopt,
        };
        use std::os::fd::AsRawFd;
        let fd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Tcp,
        )
        .unwrap();
        setsockopt(&fd, sockopt::ReuseAddr, &true).unwrap();
        bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port)).unwrap();
        let port = getsockname::<SockaddrIn>(fd.as_raw_fd()).unwrap().port();
        (fd, port)
    }

    /// Connects `fd` to the IPv4 address `to`.
    fn connect_to(fd: &std::os::fd::OwnedFd, to: SocketAddr) {
        use std::os::fd::AsRawFd;
        let SocketAddr::V4(to) = to else {
            unreachable!("the tests connect over IPv4")
        };
        nix::sys::socket::connect(fd.as_raw_fd(), &nix::sys::socket::SockaddrIn::from(to)).unwrap();
    }

    /// Closes `fd` with a reset (`SO_LINGER` 0), freeing its addresses at once.
    fn reset(fd: std::os::fd::OwnedFd) {
        let linger = nix::libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::Linger, &linger).unwrap();
    }

    /// The attack (red team): another account binds a port with `SO_REUSEADDR`, the owner's
    /// own server later listens on that port, and the other account connects from it, sends its
    /// request and resets the connection before keyhatch looks. The kernel, no longer finding
    /// the connecting socket, answers with the listener, the owner's: that is nobody's.
    #[test]
    fn a_listener_on_the_reset_clients_port_does_not_pass_for_its_owner() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = server.local_addr().unwrap();
        let (client, port) = reusable(0);
        let (squatted, _) = reusable(port);
        nix::sys::socket::listen(&squatted, nix::sys::socket::Backlog::new(8).unwrap()).unwrap();
        connect_to(&client, local);
        let (_end, peer) = server.accept().unwrap();
        reset(client);
        let found = sock_diag::owner(peer, local).unwrap();
        assert!(!matches!(found, Found::Held(_)), "{found:?}");
        assert!(!matches!(lookup(peer, local), Found::Held(_)));
    }

    /// The attack (red team, round 2): another account queues a connection from port P with
    /// its request and resets it before keyhatch accepts; the owner's own client then connects
    /// from P (the attacker held every other port). The lookup by addresses now finds the
    /// owner's socket, but the connection keyhatch accepted is the attacker's: nobody's.
    #[test]
    fn a_reset_connection_whose_addresses_another_socket_took_is_nobodys() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = server.local_addr().unwrap();
        let (attacker, port) = reusable(0);
        connect_to(&attacker, local);
        reset(attacker);
        let (owners, _) = reusable(port);
        connect_to(&owners, local);
        // The queue's first connection is the attacker's, reset; the owner's is behind it.
        let (first, peer) = server.accept().unwrap();
        assert_eq!(peer.port(), port);
        let inode = |stream: &TcpStream| rustix::fs::fstat(stream).unwrap().st_ino;
        let me = nix::unistd::getuid().as_raw();
        assert_eq!(lookup(peer, local), Found::Held(me), "the race is set");
        assert_eq!(
            Peer::of_tcp(peer, local, inode(&first)),
            Peer::Loopback {
                addr: peer,
                uid: None
            }
        );
        let (second, again) = server.accept().unwrap();
        assert_eq!(
            Peer::of_tcp(again, local, inode(&second)).uid(),
            Some(me),
            "the owner's own"
        );
    }

    #[test]
    fn the_kernels_answer_for_one_socket_agrees_with_its_table() {
        let (local, peer, _client, _server) = connection("127.0.0.1");
        let me = nix::unistd::getuid().as_raw();
        assert_eq!(sock_diag::owner(peer, local).unwrap(), Found::Held(me));
        assert_eq!(owner_from_table(peer, local).unwrap(), Found::Held(me));
        // The server's own end is another socket, owned alike; a port nobody uses is none.
        assert_eq!(sock_diag::owner(local, peer).unwrap(), Found::Held(me));
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(sock_diag::owner(nobody, local).unwrap(), Found::NotHere);
        assert_eq!(owner_from_table(nobody, local).unwrap(), Found::NotHere);
    }

    /// The attack: send a request and close at once, so that when keyhatch looks the peer up
    /// the kernel holds the client's end only to finish the connection, and reports it as
    /// root's. Neither lookup may take that for an owner.
    #[test]
    fn a_client_that_closed_its_end_has_no_owner() {
        let (local, peer, client, _server) = connection("127.0.0.1");
        drop(client);
        // Wait until the kernel has taken the closed end over (FIN sent and acknowledged).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
            let held = table.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                parse_endpoint(fields[1]) == Some(peer) && fields[9] != "0"
            });
            if !held {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(sock_diag::owner(peer, local).unwrap(), Found::Closed);
        assert_eq!(owner_from_table(peer, local).unwrap(), Found::Closed);
        assert_eq!(
            Peer::of_tcp(peer, local, 0),
            Peer::Loopback {
                addr: peer,
                uid: None
            }
        );
    }

    #[test]
    fn only_the_own_account_and_root_are_allowed_on_this_host() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let loopback = |uid| Peer::Loopback { addr, uid };
        assert!(loopback(Some(1000)).is_allowed(1000));
        assert!(loopback(Some(0)).is_allowed(1000));
        assert!(!loopback(Some(1001)).is_allowed(1000));
        assert!(!loopback(None).is_allowed(1000));
        assert!(!Peer::Unix { uid: Some(1001) }.is_allowed(1000));
        assert!(Peer::Unix { uid: Some(1000) }.is_allowed(1000));
        assert!(Peer::Remote(addr).is_allowed(1000));
    }

    #[test]
    fn a_connection_is_from_this_host_by_its_socket_or_its_addresses() {
        let loopback: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let elsewhere: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        let own = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 4000);
        // No socket of these on this host: the addresses decide.
        assert!(is_this_host(elsewhere, loopback), "to a loopback address");
        assert!(is_this_host(loopback, elsewhere), "from a loopback address");
        assert!(!is_this_host(elsewhere, elsewhere), "another host");
        assert!(
            is_this_host(own, elsewhere),
            "an address a socket binds to here"
        );
        assert_eq!(
            Peer::of_tcp(elsewhere, elsewhere, 0),
            Peer::Remote(elsewhere)
        );
        assert_eq!(
            Peer::of_tcp(elsewhere, loopback, 0),
            Peer::Loopback {
                addr: elsewhere,
                uid: None
            }
        );
    }

    #[test]
    fn endpoints_parse_as_the_kernel_prints_them() {
        assert_eq!(
            parse_endpoint("0100007F:0BB8"),
            Some("127.0.0.1:3000".parse().unwrap())
        );
        assert_eq!(
            parse_endpoint("00000000000000000000000001000000:0050"),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(parse_endpoint("zz:0050"), None);
    }
}
