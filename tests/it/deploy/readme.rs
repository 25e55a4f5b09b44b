//! What the README's "Deploying at a site" shows is what the tests run: the Apache example
//! whole, and the lines it gives Open OnDemand's `ood_portal.yml`, which Apache accepts in a
//! virtual host as OnDemand renders it.

use super::{apachectl_t, repo};

/// The body of the README's fenced block that starts with a line `opening` (as "```apache")
/// and holds `holding`.
fn block<'a>(readme: &'a str, opening: &str, holding: &str) -> &'a str {
    let mut rest = readme;
    while let Some(at) = rest.find(&format!("\n{opening}\n")) {
        let body = &rest[at + opening.len() + 2..];
        let end = body.find("\n```").expect("a closed block") + 1;
        if body[..end].contains(holding) {
            return &body[..end];
        }
        rest = &body[end..];
    }
    panic!("the README has no {opening} block with {holding}")
}

#[test]
fn the_readme_shows_the_shipped_apache_example_whole() {
    let readme = repo("README.md");
    let shown = block(&readme, "```apache", "OIDCProviderMetadataURL");
    assert_eq!(shown, repo("deploy/apache-keyhatch.conf"));
}

/// The README's `custom_vhost_directives`, read as YAML reads a list of single-quoted strings,
/// placed after the OpenID Connect lines Open OnDemand 4.2.3's template
/// (`ood-portal-generator/templates/ood-portal.conf.erb`) renders at the virtual host's level.
#[test]
fn the_readme_ondemand_lines_pass_apachectl_t_in_ondemands_virtual_host() {
    let readme = repo("README.md");
    let yaml = block(&readme, "```yaml", "custom_vhost_directives:");
    let lines: Vec<String> = yaml
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- '"))
        .map(|item| {
            let item = item.strip_suffix('\'').expect("one quoted string a line");
            item.replace("''", "'")
        })
        .collect();
    assert!(lines.len() > 10, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("Require expr")),
        "{lines:?}"
    );
    let site = format!(
        "<VirtualHost *:443>\n  ServerName ondemand.example.org\n\
         OIDCProviderMetadataURL https://login.example.org/.well-known/openid-configuration\n\
         OIDCClientID ondemand\n  OIDCClientSecret secret\n  OIDCRedirectURI /oidc\n\
         OIDCRemoteUserClaim preferred_username\n  OIDCScope \"openid profile email\"\n\
         OIDCCryptoPassphrase passphrase\n  OIDCSessionInactivityTimeout 28800\n\
         OIDCSessionMaxDuration 28800\n  OIDCStateMaxNumberOfCookies 10 true\n\
         OIDCCookieSameSite On\n  {}\n  <Location \"/oidc\">\n    AuthType openid-connect\n\
         Require valid-user\n  </Location>\n</VirtualHost>\n",
        lines.join("\n  ")
    );
    let dir = tempfile::tempdir().unwrap();
    apachectl_t(dir.path(), &site);
}
