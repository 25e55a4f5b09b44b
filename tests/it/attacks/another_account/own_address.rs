//! Another account connects from one of the host's own addresses rather than from 127.0.0.1:
//! the connection is still from this host, and still that account's.

use std::process::Command;

use crate::helpers::{Account, spawn_app, spawn_app_at};

use super::log_in;

/// A test-only address on `lo` (a /32 or /128 from a range this machine does not use), so that
/// any account can bind a socket to it as to the host's own address; removed on drop, even when
/// the test fails.
struct OwnAddress(&'static str);

impl OwnAddress {
    fn add(address: &'static str) -> Self {
        let prefix = if address.contains(':') { "/128" } else { "/32" };
        let added = Command::new("ip")
            .args(["addr", "add", &format!("{address}{prefix}"), "dev", "lo"])
            .args(address.contains(':').then_some("nodad"))
            .status()
            .expect("ip runs (the tests run as root)");
        assert!(added.success(), "ip addr add {address}");
        Self(address)
    }
}

impl Drop for OwnAddress {
    fn drop(&mut self) {
        let prefix = if self.0.contains(':') { "/128" } else { "/32" };
        let _ = Command::new("ip")
            .args(["addr", "del", &format!("{}{prefix}", self.0), "dev", "lo"])
            .status();
    }
}

/// What `account` gets for `request` (`$KH_TOKEN` replaced by the token) sent from its socket
/// bound to `from`, to `to` port `port`: the raw answer, empty when the connection was closed.
fn send_from(account: &Account, from: &str, to: &str, port: u16, request: &str) -> String {
    account.python(
        "import os,socket,sys\n\
         src, dst, port, req = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]\n\
         family = socket.AF_INET6 if ':' in src else socket.AF_INET\n\
         s = socket.socket(family)\n\
         s.bind(socket.getaddrinfo(src, 0, family)[0][4])\n\
         s.connect(socket.getaddrinfo(dst, port, family)[0][4])\n\
         try:\n\
         \x20   s.sendall(req.replace('$KH_TOKEN', os.environ['KH_TOKEN']).encode())\n\
         \x20   answer = b''\n\
         \x20   while chunk := s.recv(65536): answer += chunk\n\
         except ConnectionError:\n\
         \x20   pass\n\
         print(answer.decode(errors='replace'))",
        &[from, to, &port.to_string(), request],
    )
}

/// The list asked for with the owner's token, then with the owner's session cookie.
fn requests(cookie: &str) -> [String; 2] {
    [
        "GET /api/keys/list HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $KH_TOKEN\r\nConnection: close\r\n\r\n".to_owned(),
        format!("GET /api/keys/list HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    ]
}

#[test]
fn another_account_bound_to_the_hosts_own_address_is_refused_on_loopback() {
    let v4 = OwnAddress::add("198.51.100.71");
    let v6 = OwnAddress::add("fd6b:6861:7463::71");
    let stranger = Account::create();
    let home = tempfile::tempdir().unwrap();
    for (from, to, app) in [
        (v4.0, "127.0.0.1", spawn_app(home.path())),
        (v6.0, "::1", spawn_app_at(home.path(), "[::1]:0", &[])),
    ] {
        let cookie = log_in(&app);
        for request in requests(&cookie) {
            let answer = send_from(&stranger, from, to, app.port, &request);
            assert!(
                answer.starts_with("HTTP/1.1 403"),
                "from {from} to {to}: {answer}"
            );
            assert!(!answer.contains("\"keys\""), "{answer}");
        }
        assert_eq!(
            app.get("/api/keys/list", &[("Cookie", &cookie)]).status,
            200,
            "the owner still passes"
        );
    }
}

#[test]
fn another_account_on_this_host_is_refused_where_keyhatch_listens_beyond_loopback() {
    let address = OwnAddress::add("198.51.100.72");
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app_at(
        home.path(),
        "198.51.100.72:0",
        &["--allow-remote", "--allowed-host", "198.51.100.72"],
    );
    let stranger = Account::create();
    // The owner, from this host, passes with its token.
    assert_eq!(app.get_authorized("/api/keys/list").status, 200);
    let cookie = log_in(&app);
    for request in requests(&cookie) {
        let answer = send_from(&stranger, address.0, address.0, app.port, &request);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        // From loopback to the host's own address: still this host.
        let answer = send_from(&stranger, "127.0.0.1", address.0, app.port, &request);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    }
}

/// This host's first IPv6 link-local address, with its scope (`fe80::…%eth0`).
fn link_local() -> String {
    let out = Command::new("ip")
        .args(["-6", "-o", "addr", "show", "scope", "link"])
        .output()
        .expect("ip runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .next()
        .expect("an interface with an IPv6 link-local address");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let address = fields[3].split('/').next().unwrap();
    format!("{address}%{}", fields[1])
}

/// The attack (red team, round 2): with `--allow-remote` on `[::]`, another account connects
/// from the host's own link-local address, which the kernel files under its interface and a
/// test bind without the scope cannot take: the connection passed for another host's.
#[test]
fn another_account_from_the_hosts_link_local_address_is_refused_beyond_loopback() {
    let address = link_local();
    let home = tempfile::tempdir().unwrap();
    let app = spawn_app_at(home.path(), "[::]:0", &["--allow-remote"]);
    let stranger = Account::create();
    // The token is enough to show it; a cookie would need a login through `[::]`'s Host.
    for request in requests("keyhatch_session=none") {
        let answer = send_from(&stranger, &address, &address, app.port, &request);
        assert!(answer.starts_with("HTTP/1.1 403"), "{address}: {answer}");
    }
}
