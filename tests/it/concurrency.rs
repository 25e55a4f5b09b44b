//! Many writers at once: two keyhatch processes sharing one home, and an outside `cat >>`.
use std::collections::HashSet;
use std::fs;
use std::process::Command;

use crate::helpers::{TOKEN, spawn_app};
use keyhatch::ssh::authorized_keys;

const GENERATES: usize = 200;
const CLIENTS: usize = 8;
const OUTSIDE_LINES: usize = 200;

#[test]
fn two_servers_and_an_outside_writer_lose_no_line_and_tear_none() {
    let home = tempfile::tempdir().unwrap();
    // The outside writer needs ~/.ssh to exist, as it would on any account that has keys.
    fs::create_dir(home.path().join(".ssh")).unwrap();
    let servers = [spawn_app(home.path()), spawn_app(home.path())];
    let file = servers[0].authorized_keys();

    let fingerprints: Vec<String> = std::thread::scope(|s| {
        let outside = s.spawn(|| {
            let script = format!(
                "set -e; for i in $(seq {OUTSIDE_LINES}); do printf '# written by hand %d\\n' \"$i\" | cat >> \"$1\"; done"
            );
            let status = Command::new("sh").args(["-c", &script, "sh"]).arg(&file).status().unwrap();
            assert!(status.success());
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let servers = &servers;
                s.spawn(move || {
                    (0..GENERATES / CLIENTS)
                        .map(|i| {
                            let key = servers[(c + i) % 2].generate(None);
                            key["info"]["fingerprint"].as_str().unwrap().to_owned()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        outside.join().unwrap();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });

    let contents = fs::read(&file).unwrap();
    let text = String::from_utf8(contents.clone()).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    let by_hand_count = lines
        .iter()
        .filter(|l| l.starts_with("# written by hand "))
        .count();
    assert_eq!(
        (lines.len() - by_hand_count, by_hand_count),
        (GENERATES, OUTSIDE_LINES),
        "(keyhatch lines, lines by hand): lines were lost or split"
    );

    let parsed = authorized_keys::parse(&contents);
    assert!(
        parsed.unreadable.is_empty(),
        "torn lines at {:?}",
        parsed.unreadable
    );
    let in_file: HashSet<String> = parsed
        .keys
        .iter()
        .map(authorized_keys::KeyLine::fingerprint)
        .collect();
    let returned: HashSet<String> = fingerprints.iter().cloned().collect();
    assert_eq!(returned.len(), GENERATES);
    assert_eq!(
        in_file, returned,
        "every key handed out is in the file, and only those"
    );

    let by_hand: HashSet<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("# written by hand "))
        .collect();
    let expected: HashSet<String> = (1..=OUTSIDE_LINES)
        .map(|i| format!("# written by hand {i}"))
        .collect();
    assert_eq!(by_hand.len(), OUTSIDE_LINES);
    assert!(by_hand.iter().all(|l| expected.contains(*l)));
}

/// Red team: with lists of a person's own large file run on the request threads (as many as
/// cores), six at once held every other request of that server for seconds. A large file is
/// read on a blocking thread: the page's other calls answer while the lists run.
#[test]
fn lists_of_a_large_file_leave_the_other_requests_answered() {
    use std::time::{Duration, Instant};

    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    let line = "restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t fileglancer\n";
    fs::write(
        home.path().join(".ssh/authorized_keys"),
        line.repeat(40_000),
    )
    .unwrap();
    let app = spawn_app(home.path());
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let (lists, account) = std::thread::scope(|s| {
        let lists: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let start = Instant::now();
                    assert_eq!(app.get("/api/keys/list", &auth).status, 200);
                    start.elapsed()
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        assert_eq!(app.get("/api/account", &auth).status, 200);
        let account = start.elapsed();
        let lists: Vec<Duration> = lists.into_iter().map(|l| l.join().unwrap()).collect();
        (lists, account)
    });
    let shortest = lists.iter().min().unwrap();
    assert!(
        account * 4 < *shortest,
        "the account took {account:?} while lists took {lists:?}"
    );
}

/// Red team: a person who filled their own file to the 16 MiB limit with keyhatch's lines
/// (150,000 of them) got a 178 MB page, built with 2 GB after their slot was given back; a few
/// loads at once took the service down for everyone. The page and the API list the newest
/// 2,000 keys, the first 2,000 others and 100 unreadable line numbers, and say how many more
/// the file holds (`ssh::tests` has the bound on their text).
#[test]
fn a_file_at_the_size_limit_makes_a_page_and_a_list_of_bounded_size_that_say_what_is_left_out() {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl3cDmMnjkMkDTfhcPG9ku4k3QClXQl3TRJgkQlqj6t";
    let mut contents = String::new();
    let mut ours = 0;
    while contents.len() < (16 << 20) - 400 {
        contents.push_str(&format!("restrict,pty {key} fileglancer l{ours}\n"));
        contents.push_str(&format!("{key} me@laptop o{ours}\nnot a key\n"));
        ours += 1;
    }
    fs::write(home.path().join(".ssh/authorized_keys"), &contents).unwrap();
    let app = spawn_app(home.path());

    let list = app.get_authorized("/api/keys/list");
    assert_eq!(
        list.status,
        200,
        "{}",
        &list.body[..list.body.len().min(300)]
    );
    assert!(list.body.len() < 1 << 20, "{} bytes", list.body.len());
    let list = list.json();
    assert_eq!(list["keys"].as_array().unwrap().len(), 2_000);
    let newest = list["keys"][1_999]["label"].as_str().unwrap().to_owned();
    assert_eq!(newest, format!("l{}", ours - 1));
    assert_eq!(list["keys_not_listed"], ours - 2_000);
    assert_eq!(list["other_keys"], ours);
    assert_eq!(list["unreadable_lines"].as_array().unwrap().len(), 100);
    assert_eq!(list["unreadable_lines_not_listed"], ours - 100);
    let others = app.get_authorized("/api/keys/others").json();
    assert_eq!(others["keys"].as_array().unwrap().len(), 2_000);
    assert_eq!(others["keys_not_listed"], ours - 2_000);

    let page = app.get_authorized("/ssh-keys");
    assert_eq!(page.status, 200);
    assert!(
        page.body.len() < 4 << 20,
        "the page is {} bytes",
        page.body.len()
    );
    let more = format!(
        "{} more keyhatch keys in this file are not shown",
        ours - 2_000
    );
    assert!(page.body.contains(&more), "the page does not say: {more}");
    assert!(page.body.contains(&newest));
    assert!(
        page.body
            .contains(&format!("{} more follow them in the file", ours - 2_000))
    );

    let table = crate::terminal::keys(home.path(), &["list"], b"");
    assert!(table.status.success());
    assert_eq!(
        String::from_utf8_lossy(&table.stdout).lines().count(),
        2_000
    );
    let said = String::from_utf8_lossy(&table.stderr);
    assert!(
        said.contains(&format!("{} more keyhatch key(s)", ours - 2_000)),
        "{said}"
    );
}
