use std::net::{Ipv6Addr, TcpStream};

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
        AddressFamily, SockFlag, SockProtocol, SockType, SockaddrIn, bind, getsockname, setsockopt,
        socket, sockopt,
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

/// Lookups share their thread's netlink socket: an answer a lookup left unread (cut short
/// between its request and its read) is never taken for the next lookup's.
#[test]
fn an_answer_left_unread_is_not_taken_for_the_next_lookups() {
    let (local, peer, _client, _server) = connection("127.0.0.1");
    let me = nix::unistd::getuid().as_raw();
    let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
    sock_diag::ask_and_leave_unread(nobody, local);
    sock_diag::ask_and_leave_unread(peer, local);
    assert_eq!(sock_diag::owner(nobody, local).unwrap(), Found::NotHere);
    sock_diag::ask_and_leave_unread(nobody, local);
    assert_eq!(sock_diag::owner(peer, local).unwrap(), Found::Held(me));
    assert_eq!(sock_diag::owner(peer, local).unwrap(), Found::Held(me));
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
