//! Another account holds many idle connections open, to use up the file descriptors keyhatch
//! may have and lock its owner out.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Account, TOKEN, spawn_app_under};

#[test]
fn another_account_holding_1100_idle_connections_does_not_lock_the_owner_out() {
    let home = tempfile::tempdir().unwrap();
    // The usual soft and hard limit of a login session: 1,024 descriptors.
    let app = spawn_app_under(home.path(), "--nofile=1024:1024");
    let stranger = Account::create();
    let program = "import resource,socket,sys\n\
         hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n\
         resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n\
         held = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) for _ in range(1100)]\n\
         print('held', len(held), flush=True)\n\
         sys.stdin.read()";
    let mut holder = Command::new("setpriv")
        .args([
            &format!("--reuid={}", stranger.uid),
            &format!("--regid={}", stranger.gid),
            "--clear-groups",
            "--",
            "/usr/bin/python3",
            "-c",
            program,
            &app.port.to_string(),
        ])
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said.trim(), "held 1100");

    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    write!(
        stream,
        "GET /api/keys/list HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    let took = started.elapsed();
    holder.stdin.take();
    let _ = holder.wait();
    assert!(
        read.is_ok(),
        "no answer within a second: {read:?} after {took:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}
