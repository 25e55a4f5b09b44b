//! The deployment files in `deploy/` are the ones the README shows: the web servers accept
//! them, and the settings file is one keyhatch reads.

pub mod proxies;
pub mod readme;

use std::fs;
use std::path::Path;
use std::process::Command;

pub fn repo(path: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// A self-signed certificate and key in `dir`, for the examples' TLS lines.
pub fn certificate(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=portal.example.org",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert.display().to_string(), key.display().to_string())
}

#[test]
fn the_nginx_example_passes_nginx_t() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let site = repo("deploy/nginx-keyhatch.conf")
        .replace("/etc/ssl/certs/portal.example.org.pem", &cert)
        .replace("/etc/ssl/private/portal.example.org.key", &key);
    fs::write(dir.path().join("keyhatch.conf"), site).unwrap();
    let d = dir.path().display();
    fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n\
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/keyhatch.conf;\n}}\n"
        ),
    )
    .unwrap();
    let out = Command::new("/usr/sbin/nginx")
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .output()
        .expect("nginx is installed (the README's test command installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_site_settings_example_is_a_settings_file_keyhatch_reads() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keyhatch.toml");
    let example = repo("deploy/keyhatch.toml").replace(
        "/run/keyhatch/keyhatch.sock",
        &dir.path().join("k.sock").display().to_string(),
    );
    fs::write(
        &config,
        example.replace(
            "/var/log/keyhatch/audit.log",
            &dir.path().join("audit.log").display().to_string(),
        ),
    )
    .unwrap();
    // keyhatch starts with it: it reads every setting and says it serves in site mode.
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhatch"))
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("site mode"), "{first}");
}

#[test]
fn the_apache_example_passes_apachectl_t() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let site = repo("deploy/apache-keyhatch.conf")
        .replace("/etc/ssl/certs/portal.example.org.pem", &cert)
        .replace("/etc/ssl/private/portal.example.org.key", &key);
    apachectl_t(dir.path(), &site);
}

/// Runs Debian's `apachectl -t` on `site` (a virtual host) with the modules the examples use,
/// in `dir`, and fails unless it says "Syntax OK".
pub fn apachectl_t(dir: &Path, site: &str) {
    fs::write(dir.join("keyhatch.conf"), site).unwrap();
    let d = dir.display();
    let modules = [
        ("mpm_event", "mod_mpm_event"),
        ("authn_core", "mod_authn_core"),
        ("authz_core", "mod_authz_core"),
        ("authz_user", "mod_authz_user"),
        ("headers", "mod_headers"),
        ("proxy", "mod_proxy"),
        ("proxy_http", "mod_proxy_http"),
        ("socache_shmcb", "mod_socache_shmcb"),
        ("ssl", "mod_ssl"),
        ("auth_openidc", "mod_auth_openidc"),
    ];
    let mut config = format!(
        "ServerName localhost\nPidFile {d}/apache.pid\nErrorLog {d}/error.log\nMutex file:{d} default\n"
    );
    for (name, file) in modules {
        config.push_str(&format!(
            "LoadModule {name}_module /usr/lib/apache2/modules/{file}.so\n"
        ));
    }
    config.push_str(&format!("Include {d}/keyhatch.conf\n"));
    fs::write(dir.join("apache.conf"), config).unwrap();
    let out = Command::new("apachectl")
        .arg("-t")
        .arg("-f")
        .arg(dir.join("apache.conf"))
        .output()
        .expect("apachectl is installed (the README's test command installs Debian's apache2)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("Syntax OK"), "{said}");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("keyhatch.service");
    fs::write(
        &unit,
        repo("deploy/keyhatch.service")
            .replace("/usr/bin/keyhatch", env!("CARGO_BIN_EXE_keyhatch")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs (Debian's systemd package)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}

/// The Apache example's check of the name, run by Apache itself on real requests: its
/// `<RequireAll>` block, with logins from a password file in place of OpenID Connect. "alice"
/// passes (404: nothing behind it here); "alice " and " alice", each with its own password,
/// are refused.
#[test]
fn the_apache_examples_name_check_refuses_blanks_around_a_name() {
    let example = repo("deploy/apache-keyhatch.conf");
    let start = example
        .find("<RequireAll>")
        .expect("the example's name check");
    let end = example.find("</RequireAll>").unwrap() + "</RequireAll>".len();
    let check = &example[start..end];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let htpasswd =
        crate::helpers::htpasswd([("alice", "pw1"), ("alice ", "pw2"), (" alice", "pw3")]);
    fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
    let port = crate::helpers::free_port();
    let mut config = format!(
        "ServerName localhost\nListen 127.0.0.1:{port}\nPidFile {d}/apache.pid\nErrorLog {d}/error.log\n\
         Mutex file:{d} default\nDocumentRoot {d}\n"
    );
    for (name, file) in [
        ("mpm_event", "mod_mpm_event"),
        ("authn_core", "mod_authn_core"),
        ("authn_file", "mod_authn_file"),
        ("auth_basic", "mod_auth_basic"),
        ("authz_core", "mod_authz_core"),
        ("authz_user", "mod_authz_user"),
    ] {
        config.push_str(&format!(
            "LoadModule {name}_module /usr/lib/apache2/modules/{file}.so\n"
        ));
    }
    config.push_str(&format!(
        "<Location />\n  AuthType Basic\n  AuthName keyhatch\n  AuthUserFile {d}/htpasswd\n  {check}\n</Location>\n"
    ));
    fs::write(dir.path().join("apache.conf"), config).unwrap();
    let mut apache = Command::new("/usr/sbin/apache2")
        .args(["-X", "-f"])
        .arg(dir.path().join("apache.conf"))
        .spawn()
        .expect("apache2 is installed");
    crate::helpers::wait_for(
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "apache",
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status = |login: &str| {
        use base64::Engine;
        let basic = base64::prelude::BASE64_STANDARD.encode(login);
        agent
            .get(format!("http://127.0.0.1:{port}/"))
            .header("Authorization", format!("Basic {basic}"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    let statuses = [
        status("alice:pw1"),
        status("alice :pw2"),
        status(" alice:pw3"),
    ];
    let _ = apache.kill();
    let _ = apache.wait();
    assert_eq!(statuses, [404, 401, 401], "alice, \"alice \", \" alice\"");
}
