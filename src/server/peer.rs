//! Who is on the other end of a connection. Every account on a shared node can reach loopback,
//! and can bind its end to any of the host's own addresses, so neither a token nor the source
//! address tells who connects: for TCP keyhatch asks the kernel for the connecting socket by the
//! connection's four addresses (`sock_diag`, else `/proc/net/tcp` and `tcp6`), and a connection
//! whose socket is found there comes from this host, whatever its addresses; on a Unix socket it
//! reads the peer's credentials (`SO_PEERCRED`). Once per connection, when it is accepted.

use std::io;
use std::net::SocketAddr;

use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use table::{Found, owner_from_table, parse_endpoint};

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

/// A Unix socket listener that tells each connection's [`Peer`]; a listener sent on `again`
/// (bound anew at the same path, after systemd-logind removed its directory) takes over.
pub struct UnixPeers {
    /// The listener connections are accepted from.
    pub listener: UnixListener,
    /// Listeners that replace it.
    pub again: Option<tokio::sync::mpsc::UnboundedReceiver<UnixListener>>,
}

impl Listener for UnixPeers {
    type Io = UnixStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (UnixStream, Peer) {
        loop {
            let (listener, again) = (&mut self.listener, &mut self.again);
            let again = async move {
                match again {
                    Some(again) => again.recv().await,
                    None => std::future::pending().await,
                }
            };
            self.listener = tokio::select! {
                (stream, _) = Listener::accept(listener) => {
                    let uid = stream.peer_cred().ok().map(|cred| cred.uid());
                    return (stream, Peer::Unix { uid });
                }
                Some(listener) = again => listener,
            };
        }
    }

    fn local_addr(&self) -> io::Result<Peer> {
        Ok(Peer::Unix { uid: None })
    }
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

mod sock_diag;
mod table;
#[cfg(test)]
mod tests;
