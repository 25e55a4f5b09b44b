use super::*;

#[test]
fn https_anywhere_and_http_only_on_loopback() {
    for good in [
        "https://api.cloud.seqera.io",
        "https://seqera.example.org/api/",
        "http://127.0.0.1:8080/api",
        "http://localhost:9000",
        "http://[::1]:9000/api",
    ] {
        assert!(PlatformUrl::parse(good).is_ok(), "{good} refused");
    }
    for bad in [
        "http://seqera.example.org/api",
        "http://10.0.0.1/api",
        "ftp://seqera.example.org",
        "seqera.example.org",
        "https://",
        "https://user:pw@seqera.example.org",
        "https://seqera.example.org/api?x=1",
        "http://127.0.0.1.evil.example/api",
    ] {
        assert!(PlatformUrl::parse(bad).is_err(), "{bad} accepted");
    }
    let message = PlatformUrl::parse("http://seqera.example.org")
        .unwrap_err()
        .to_string();
    assert!(message.contains("only on loopback"), "{message}");
}

#[test]
fn a_path_is_kept_when_joining_endpoints() {
    let url = PlatformUrl::parse("https://seqera.example.org/api/").unwrap();
    assert_eq!(
        url.join("/user-info"),
        "https://seqera.example.org/api/user-info"
    );
    let cloud = PlatformUrl::parse("https://api.cloud.seqera.io").unwrap();
    assert_eq!(
        cloud.join("/credentials"),
        "https://api.cloud.seqera.io/credentials"
    );
}

#[test]
fn the_web_pages_are_the_api_without_api() {
    let web = |u: &str| PlatformUrl::parse(u).unwrap().web();
    assert_eq!(
        web("https://api.cloud.seqera.io"),
        "https://cloud.seqera.io"
    );
    assert_eq!(
        web("https://seqera.example.org/api"),
        "https://seqera.example.org"
    );
    assert_eq!(
        web("https://platform.example.org"),
        "https://platform.example.org"
    );
}

#[test]
fn a_credentials_name_follows_platforms_rule() {
    assert!(CredentialsName::parse("keyhatch-2026-12-01").is_ok());
    assert!(CredentialsName::parse("a_B-9").is_ok());
    assert!(CredentialsName::parse(&"x".repeat(100)).is_ok());
    assert_eq!(CredentialsName::parse(""), Err(InvalidName::Empty));
    assert_eq!(
        CredentialsName::parse(&"x".repeat(101)),
        Err(InvalidName::TooLong(101))
    );
    assert_eq!(
        CredentialsName::parse("my key"),
        Err(InvalidName::Character(' '))
    );
    assert_eq!(
        CredentialsName::parse("clé"),
        Err(InvalidName::Character('é'))
    );
}

#[test]
fn a_token_is_trimmed_and_never_shown() {
    assert!(Token::new("  ").is_none());
    let token = Token::new(" eyJ-secret ").unwrap();
    assert_eq!(token.0, "eyJ-secret");
    assert_eq!(format!("{token:?}"), "Token(<redacted>)");
}

#[test]
fn a_token_that_could_not_be_a_header_is_refused_before_anything_is_sent() {
    // Red team: a token with a line break reached the HTTP client, and the person read
    // "keyhatch could not reach Seqera Platform" instead of what was wrong with the token.
    for token in [
        "eyJ\r\nX-Evil: 1",
        "eyJ\tsecret",
        "eyJ secret",
        "eyJ\u{7f}",
        "jéton",
    ] {
        assert!(Token::new(token).is_none(), "{token:?}");
    }
}

#[test]
fn a_ca_file_without_a_certificate_is_refused() {
    let url = PlatformUrl::parse("https://seqera.example.org").unwrap();
    let error = Platform::new(url, Some(b"not a certificate\n"), DEFAULT_TIMEOUT).unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
}
