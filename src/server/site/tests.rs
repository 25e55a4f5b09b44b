use std::time::Duration;

use super::*;
use crate::api::helper::Runner;
use crate::api::limits::Limits;
use crate::ssh::{KeysFile, Tag};

#[test]
fn the_user_map_takes_the_first_group_and_lowercases_when_asked() {
    let map = UserMap::new(r"^([^@]+)@example\.org$", true).unwrap();
    assert_eq!(map.map("Alice@example.org").as_deref(), Some("alice"));
    assert_eq!(map.map("alice@evil.org"), None);
    let plain = UserMap::new("^.+$", false).unwrap();
    assert_eq!(plain.map("Bob").as_deref(), Some("Bob"));
}

fn site() -> Site {
    Site {
        header: HeaderName::from_static("x-forwarded-user"),
        proxy_uid: Some(33),
        trusted_proxies: Arc::from([IpAddr::from([127, 0, 0, 1]), IpAddr::from([10, 0, 0, 5])]),
        user_map: UserMap::new("^(.+)$", false).unwrap(),
        min_uid: 1000,
        max_uid: None,
        overflow_uid: 65534,
        allowed_group: None,
        logout_url: None,
        audit: Audit::to_stderr(),
        people: SitePeople::new(
            Runner::new(Duration::from_secs(1)),
            KeysFile::default(),
            1 << 20,
            Duration::ZERO,
            Tag::default(),
            Limits::none(),
        ),
    }
}

#[test]
fn only_the_proxy_is_believed() {
    let site = site();
    let loopback = |uid| Peer::Loopback {
        addr: "127.0.0.1:5000".parse().unwrap(),
        uid,
    };
    assert!(site.is_proxy(&Peer::Unix { uid: Some(33) }));
    assert!(!site.is_proxy(&Peer::Unix { uid: Some(1000) }));
    assert!(site.is_proxy(&loopback(Some(33))));
    assert!(
        !site.is_proxy(&loopback(Some(1000))),
        "loopback alone proves nothing"
    );
    assert!(site.is_proxy(&Peer::Remote("10.0.0.5:4000".parse().unwrap())));
    assert!(!site.is_proxy(&Peer::Remote("10.0.0.6:4000".parse().unwrap())));
}

#[test]
fn root_system_accounts_and_unknown_names_are_refused() {
    let site = site();
    assert_eq!(site.person("root").unwrap_err(), Refusal::Root);
    assert!(matches!(
        site.person("daemon"),
        Err(Refusal::SystemAccount(_, 1))
    ));
    assert!(matches!(
        site.person("no-such-account-keyhatch"),
        Err(Refusal::Unknown(_))
    ));
}

#[test]
fn the_overflow_account_is_refused_and_max_uid_caps_the_rest() {
    let mut site = site();
    let nobody = nix::unistd::User::from_uid(65534.into()).unwrap().unwrap();
    assert!(matches!(
        site.person(&nobody.name),
        Err(Refusal::Overflow(_, 65534))
    ));
    site.overflow_uid = 4_000_000;
    site.min_uid = 1;
    site.max_uid = Some(999);
    assert!(matches!(
        site.person(&nobody.name),
        Err(Refusal::AboveMaxUid(_, 65534, 999))
    ));
    site.max_uid = Some(65534);
    assert!(site.person(&nobody.name).is_ok());
}
