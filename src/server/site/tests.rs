use std::net::IpAddr;

use clap::Parser;

use super::*;
use crate::declared::Cli;

/// The site settings `flags` declare (after `keyhatch --mode=site`), as checked at start with
/// the proxy www-data (uid 33) on loopback and at 10.0.0.5.
fn settings(flags: &[&str]) -> SiteSettings {
    let cli = Cli::parse_from(["keyhatch", "--mode=site"].iter().chain(flags));
    SiteSettings {
        declared: cli.site,
        public_host: "keys.example.org".into(),
        base: crate::paths::Base::default(),
        proxy: Some(("www-data".into(), 33)),
        trusted_proxies: [IpAddr::from([127, 0, 0, 1]), IpAddr::from([10, 0, 0, 5])].into(),
        overflow_uid: 65534,
        allowed_group: None,
        health_account: crate::server::settings::HealthAccount {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
        },
    }
}

fn site() -> Site {
    let cli = Cli::parse_from(["keyhatch"]);
    Site {
        settings: settings(&[]),
        audit: Audit::to_stderr(),
        people: SitePeople::new(&cli.keys, &cli.limits),
    }
}

#[test]
fn the_user_map_takes_the_first_group_and_lowercases_when_asked() {
    let map = settings(&[
        r"--user-map-match=^([^@]+)@example\.org$",
        "--user-map-lowercase",
    ]);
    assert_eq!(
        map_user(&map.declared, "Alice@example.org").as_deref(),
        Some("alice")
    );
    // ASCII letters only: the Kelvin sign (U+212A) is not a K, whatever Unicode lowercases it to.
    assert_eq!(
        map_user(&map.declared, "\u{212A}ate@example.org").as_deref(),
        Some("\u{212A}ate")
    );
    assert_eq!(map_user(&map.declared, "alice@evil.org"), None);
    let plain = settings(&["--user-map-match=^.+$"]);
    assert_eq!(map_user(&plain.declared, "Bob").as_deref(), Some("Bob"));
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
    site.settings.overflow_uid = 4_000_000;
    site.settings.declared.min_uid = 1;
    site.settings.declared.max_uid = Some(999);
    assert!(matches!(
        site.person(&nobody.name),
        Err(Refusal::AboveMaxUid(_, 65534, 999))
    ));
    site.settings.declared.max_uid = Some(65534);
    assert!(site.person(&nobody.name).is_ok());
}
