//! What `make dist` ships (make test builds it before the tests), installed and taken apart as
//! a site or a person would: the `.deb` with dpkg on this machine, the `.rpm` with Debian's rpm,
//! and the static binary in an otherwise empty chroot.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::helpers::{Account, SiteStack, TOKEN};
use crate::sshd_login::write_private;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The files both packages install, with their modes.
const FILES: [(&str, u32); 15] = [
    ("/usr/bin/keyhatch", 0o755),
    ("/etc/keyhatch/keyhatch.toml", 0o644),
    ("/usr/lib/systemd/system/keyhatch.service", 0o644),
    ("/etc/logrotate.d/keyhatch", 0o644),
    ("/usr/share/man/man8/keyhatch.8.gz", 0o644),
    ("/usr/share/bash-completion/completions/keyhatch", 0o644),
    ("/usr/share/fish/vendor_completions.d/keyhatch.fish", 0o644),
    ("/usr/share/zsh/vendor-completions/_keyhatch", 0o644),
    ("/usr/share/doc/keyhatch/copyright", 0o644),
    ("/usr/share/doc/keyhatch/LICENSE", 0o644),
    ("/usr/share/doc/keyhatch/README.md", 0o644),
    ("/usr/share/doc/keyhatch/CHANGELOG.md", 0o644),
    ("/usr/share/doc/keyhatch/SECURITY.md", 0o644),
    (
        "/usr/share/doc/keyhatch/examples/nginx-keyhatch.conf",
        0o644,
    ),
    (
        "/usr/share/doc/keyhatch/examples/apache-keyhatch.conf",
        0o644,
    ),
];

/// The configuration files an upgrade keeps when edited.
const CONFIG: [&str; 2] = ["/etc/keyhatch/keyhatch.toml", "/etc/logrotate.d/keyhatch"];

/// `name` in target/dist/, which must exist.
fn artefact(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/dist")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: build it with make dist (make test does, before the tests)",
        path.display()
    );
    path
}

fn deb() -> PathBuf {
    artefact(&format!("keyhatch_{VERSION}_amd64.deb"))
}

fn rpm() -> PathBuf {
    artefact(&format!("keyhatch-{VERSION}.x86_64.rpm"))
}

/// Runs `program` with `args`, no terminal and no input (a prompt fails rather than waits).
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

/// `program`'s standard output; panics with what it said unless it succeeds.
fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The highest `GLIBC_x.y` symbol version `binary` needs, as (x, y).
fn highest_glibc(binary: &Path) -> (u32, u32) {
    let symbols = ok("objdump", &["-T", binary.to_str().unwrap()]);
    symbols
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let (major, minor) = v.split_once('.')?;
            Some((major.parse().ok()?, minor.split('.').next()?.parse().ok()?))
        })
        .max()
        .expect("the binary needs glibc")
}

/// Every regular file under `root`, by its path from `root`, with its mode and contents.
fn tree(root: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                dirs.push(path);
            } else {
                let name = format!("/{}", path.strip_prefix(root).unwrap().display());
                files.insert(name, (meta.mode() & 0o7777, fs::read(&path).unwrap()));
            }
        }
    }
    files
}

/// keyhatch's package, purged on drop, even when the test fails.
struct Installed;

impl Installed {
    fn install(deb: &Path) -> Self {
        let installed = run("dpkg-query", &["-W", "-f=${Status}", "keyhatch"]);
        assert!(
            !String::from_utf8_lossy(&installed.stdout).contains("installed"),
            "keyhatch's package is installed on this machine: the test would replace it"
        );
        ok("dpkg", &["-i", deb.to_str().unwrap()]);
        Self
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["-P", "keyhatch"]);
    }
}

/// Whether a process runs `binary`.
fn running(binary: &Path) -> bool {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|entry| fs::read_link(entry.path().join("exe")).is_ok_and(|exe| exe == binary))
}

#[test]
fn the_deb_installs_checks_serves_upgrades_keeping_edits_and_purges_clean() {
    let deb = deb();
    let installed = Installed::install(&deb);

    for (path, mode) in FILES {
        let meta = fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            (meta.mode() & 0o7777, meta.uid(), meta.gid()),
            (mode, 0, 0),
            "{path}: mode, owner, group"
        );
    }
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "keyhatch"]);
    for path in CONFIG {
        assert!(
            conffiles.contains(path),
            "{path} is a conffile: {conffiles}"
        );
    }
    // The health check's own account: a system account no one logs in as.
    let account = ok("getent", &["passwd", "keyhatch"]);
    let fields: Vec<&str> = account.trim().split(':').collect();
    assert!(fields[2].parse::<u32>().unwrap() < 1000, "{account}");
    assert_eq!(
        (fields[4], fields[6]),
        ("keyhatch health check", "/usr/sbin/nologin"),
        "{account}"
    );
    let keyhatch = Path::new("/usr/bin/keyhatch");
    assert!(!running(keyhatch), "installing starts nothing");
    assert!(
        !Path::new("/etc/systemd/system/multi-user.target.wants/keyhatch.service").exists(),
        "installing enables nothing"
    );
    let version = ok("/usr/bin/keyhatch", &["--version"]);
    assert!(
        version.starts_with(&format!("keyhatch {VERSION} (")),
        "{version}"
    );

    // check-config: the shipped file passes; a broken one fails with its line, status 2.
    let checked = ok(
        "/usr/bin/keyhatch",
        &["check-config", "--config", "/etc/keyhatch/keyhatch.toml"],
    );
    assert!(
        checked.contains("the settings are good (/etc/keyhatch/keyhatch.toml; site mode)"),
        "{checked}"
    );
    let dir = tempfile::tempdir().unwrap();
    let shipped = fs::read_to_string("/etc/keyhatch/keyhatch.toml").unwrap();
    let broken = shipped.replace("# min-uid = 1000", "min-uid = \"a thousand\"");
    let line = 1 + broken
        .lines()
        .position(|l| l.starts_with("min-uid"))
        .unwrap();
    let file = dir.path().join("broken.toml");
    fs::write(&file, &broken).unwrap();
    let out = run(
        "/usr/bin/keyhatch",
        &["check-config", "--config", file.to_str().unwrap()],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains(&format!("line {line}: min-uid")), "{said}");

    // The installed binary serves site mode behind nginx: a person generates a key.
    let alice = Account::create_person();
    let stack = SiteStack::start_binary(keyhatch, &[&alice.name], &[], &[]);
    let generated = stack.post(&alice.name, "/api/keys/generate", "{}");
    assert_eq!(generated.status, 200, "{}", generated.body);
    let keys = alice.home().join(".ssh/authorized_keys");
    let fingerprint = generated.json()["info"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = ok("ssh-keygen", &["-lf", keys.to_str().unwrap()]);
    assert!(listed.contains(&fingerprint), "{listed}");
    assert_eq!(fs::metadata(&keys).unwrap().uid(), alice.uid);
    let health = stack.healthz();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    drop(stack);

    // An upgrade (the same package as version VERSION+1) keeps an edited settings file, with
    // no prompt: dpkg's input is closed.
    let edited = format!("{shipped}\n# edited by this site\n");
    fs::write("/etc/keyhatch/keyhatch.toml", &edited).unwrap();
    let unpacked = dir.path().join("unpacked");
    ok(
        "dpkg-deb",
        &["-R", deb.to_str().unwrap(), unpacked.to_str().unwrap()],
    );
    let control = unpacked.join("DEBIAN/control");
    let next = format!("{VERSION}+1");
    let text = fs::read_to_string(&control).unwrap().replace(
        &format!("Version: {VERSION}\n"),
        &format!("Version: {next}\n"),
    );
    fs::write(&control, text).unwrap();
    let upgrade = dir.path().join("upgrade.deb");
    ok(
        "dpkg-deb",
        &["-b", unpacked.to_str().unwrap(), upgrade.to_str().unwrap()],
    );
    ok("dpkg", &["-i", upgrade.to_str().unwrap()]);
    assert_eq!(ok("dpkg-query", &["-W", "-f=${Version}", "keyhatch"]), next);
    assert_eq!(
        fs::read_to_string("/etc/keyhatch/keyhatch.toml").unwrap(),
        edited
    );

    // Purged, nothing of it is left.
    ok("dpkg", &["-P", "keyhatch"]);
    std::mem::forget(installed);
    for (path, _) in FILES {
        assert!(!Path::new(path).exists(), "{path} is left after dpkg -P");
    }
    for dir in [
        "/etc/keyhatch",
        "/usr/share/doc/keyhatch",
        "/var/log/keyhatch",
    ] {
        assert!(!Path::new(dir).exists(), "{dir} is left after dpkg -P");
    }
    assert!(
        !run("getent", &["passwd", "keyhatch"]).status.success(),
        "the health check's account is left after dpkg -P"
    );
}

#[test]
fn the_rpm_holds_the_debs_files_as_config_noreplace_and_needs_glibc_2_28_at_most() {
    let (rpm, deb) = (rpm(), deb());
    let rpm = rpm.to_str().unwrap();
    let query = |what: &[&str]| {
        let mut args = vec!["-qp", "--nosignature"];
        args.extend_from_slice(what);
        args.push(rpm);
        ok("rpm", &args)
    };

    let requires = query(&["--requires"]);
    assert!(requires.contains("libc.so.6"), "{requires}");
    // The health check's account, made after install and taken away on erase, as the deb's.
    let scripts = query(&["--scripts"]);
    assert!(
        scripts.matches("keyhatch health check").count() == 2 && scripts.contains("useradd"),
        "{scripts}"
    );
    let glibc = requires
        .lines()
        .filter_map(|l| l.split("(GLIBC_").nth(1)?.split(')').next())
        .map(|v| {
            let mut parts = v.split('.').map(|n| n.parse::<u32>().unwrap());
            (parts.next().unwrap(), parts.next().unwrap())
        })
        .max();
    assert!(glibc.is_some_and(|v| v <= (2, 28)), "{requires}");

    let mut listed: Vec<&str> = FILES.iter().map(|(path, _)| *path).collect();
    listed.sort_unstable();
    let list = query(&["--list"]);
    let mut in_rpm: Vec<&str> = list.lines().collect();
    in_rpm.sort_unstable();
    assert_eq!(in_rpm, listed);

    let configs = query(&["--configfiles"]);
    assert_eq!(configs.lines().collect::<Vec<_>>(), CONFIG);
    let flags = query(&["--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\\n]"]);
    for path in CONFIG {
        let line = flags.lines().find(|l| l.ends_with(path)).unwrap();
        assert!(
            line.contains('c') && line.contains('n'),
            "{path} is %config(noreplace): {line}"
        );
    }

    // Installing starts and enables nothing; erasing stops and disables.
    let scripts = query(&["--scripts"]);
    let commands: Vec<&str> = scripts
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(
        !commands
            .iter()
            .any(|l| l.contains("systemctl start") || l.contains("systemctl enable")),
        "{scripts}"
    );
    assert!(
        scripts.contains("systemctl stop keyhatch.service"),
        "{scripts}"
    );

    // rpm2cpio yields the same files, modes and bytes as the .deb.
    let dir = tempfile::tempdir().unwrap();
    let (from_rpm, from_deb) = (dir.path().join("rpm"), dir.path().join("deb"));
    fs::create_dir(&from_rpm).unwrap();
    let unpacked = Command::new("sh")
        .arg("-c")
        .arg("rpm2cpio \"$1\" | cpio -idm --quiet -D \"$2\"")
        .args(["sh", rpm, from_rpm.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        unpacked.status.success(),
        "{}",
        String::from_utf8_lossy(&unpacked.stderr)
    );
    ok(
        "dpkg-deb",
        &["-x", deb.to_str().unwrap(), from_deb.to_str().unwrap()],
    );
    let (rpm_files, deb_files) = (tree(&from_rpm), tree(&from_deb));
    assert_eq!(
        rpm_files.keys().collect::<Vec<_>>(),
        deb_files.keys().collect::<Vec<_>>()
    );
    for (path, (mode, bytes)) in &rpm_files {
        let (deb_mode, deb_bytes) = &deb_files[path];
        assert_eq!(mode, deb_mode, "{path}'s mode");
        assert!(
            bytes == deb_bytes,
            "{path} differs between the .rpm and the .deb"
        );
    }
    assert!(highest_glibc(&from_rpm.join("usr/bin/keyhatch")) <= (2, 28));
}

/// A directory to chroot into, with `/proc` mounted; unmounted on drop.
struct Chroot {
    dir: tempfile::TempDir,
}

impl Chroot {
    /// The static binary at `/keyhatch`, `passwd` as `/etc/passwd`, `/tmp`, `/proc`, and a
    /// home of `account`'s at `/home/NAME`.
    fn new(binary: &Path, account: &Account) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::copy(binary, root.join("keyhatch")).unwrap();
        for sub in ["etc", "proc", "tmp", "home"] {
            fs::create_dir(root.join(sub)).unwrap();
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        let home = root.join("home").join(&account.name);
        fs::create_dir(&home).unwrap();
        std::os::unix::fs::chown(&home, Some(account.uid), Some(account.gid)).unwrap();
        let proc = root.join("proc");
        let chroot = Self { dir };
        chroot.passwd(Some(account));
        ok("mount", &["-t", "proc", "proc", proc.to_str().unwrap()]);
        chroot
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `/etc/passwd` with root, and `account` when given.
    fn passwd(&self, account: Option<&Account>) {
        let mut passwd = "root:x:0:0:root:/root:/bin/sh\n".to_owned();
        if let Some(a) = account {
            passwd += &format!("{0}:x:{1}:{2}::/home/{0}:/bin/sh\n", a.name, a.uid, a.gid);
        }
        fs::write(self.root().join("etc/passwd"), passwd).unwrap();
    }

    /// Starts `/keyhatch` as `account` inside, with only `env`; returns it with its port and
    /// everything it printed before serving.
    fn start(&self, account: &Account, env: &[(&str, &str)]) -> (Server, u16, String) {
        let mut child = Command::new("/usr/sbin/chroot")
            .arg(format!("--userspec={}:{}", account.uid, account.gid))
            .arg(self.root())
            .args(["/keyhatch", "--addr", "127.0.0.1:0", "--config", "none"])
            .env_clear()
            .env("KEYHATCH_TOKEN", TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chroot runs");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let said = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
        let server = Server(child, Some(said));
        let mut printed = String::new();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let port = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("keyhatch ended: {printed}"))
                .unwrap();
            printed += &line;
            printed.push('\n');
            if let Some(at) = line.trim().strip_prefix("http://") {
                let host = at.split('/').next().unwrap();
                break host.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        (server, port, printed)
    }
}

impl Drop for Chroot {
    fn drop(&mut self) {
        let _ = run(
            "umount",
            &["-l", self.root().join("proc").to_str().unwrap()],
        );
    }
}

/// keyhatch in the chroot, killed on drop; and what it says on standard error.
struct Server(std::process::Child, Option<std::thread::JoinHandle<String>>);

impl Server {
    /// Stops it and returns everything it said on standard error.
    fn stop(mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        self.1.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Generates a key through keyhatch on `port` as `account` (local mode lets in only its own
/// account's connections) and returns the private key.
fn generate_as(account: &Account, port: u16) -> String {
    let answer = account.http(
        port,
        "POST /api/keys/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $KH_TOKEN\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["private_key"].as_str().unwrap().to_owned()
}

/// The public half `ssh-keygen -y` derives from `private`.
fn public_of(private: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    write_private(&path, private, 0o600);
    let public = ok("ssh-keygen", &["-y", "-f", path.to_str().unwrap()]);
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The static binary, unpacked from its archive into a directory that lives as long as the
/// returned one.
fn static_binary() -> (tempfile::TempDir, PathBuf) {
    let archive = artefact(&format!("keyhatch-{VERSION}-x86_64-linux-musl.tar.gz"));
    let unpacked = tempfile::tempdir().unwrap();
    let into = unpacked.path().to_str().unwrap();
    ok("tar", &["-xzf", archive.to_str().unwrap(), "-C", into]);
    let binary = unpacked
        .path()
        .join(format!("keyhatch-{VERSION}-x86_64-linux-musl/keyhatch"));
    (unpacked, binary)
}

#[test]
fn the_static_binary_runs_local_mode_in_an_empty_chroot_with_or_without_a_passwd_entry() {
    let (_unpacked, binary) = static_binary();
    let ldd = run("ldd", &[binary.to_str().unwrap()]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(said.contains("not a dynamic executable"), "{said}");

    let person = Account::create();
    let chroot = Chroot::new(&binary, &person);
    let keys = chroot
        .root()
        .join("home")
        .join(&person.name)
        .join(".ssh/authorized_keys");

    // With its passwd entry: the home is the entry's.
    let (server, port, printed) = chroot.start(&person, &[]);
    assert!(
        printed.contains(&format!(
            "managing /home/{}/.ssh/authorized_keys",
            person.name
        )),
        "{printed}"
    );
    let first = public_of(&generate_as(&person, port));
    let said = server.stop();
    assert!(!said.contains("passwd entry"), "{said}");
    let file = fs::read_to_string(&keys).unwrap();
    assert!(file.lines().next().unwrap().contains(&first), "{file}");
    assert_eq!(fs::metadata(&keys).unwrap().uid(), person.uid);

    // Without one (an account only LDAP knows): the uid, and $HOME; it says so.
    chroot.passwd(None);
    let home = format!("/home/{}", person.name);
    let (server, port, printed) = chroot.start(&person, &[("HOME", &home), ("USER", &person.name)]);
    assert!(
        printed.contains(&format!("managing {home}/.ssh/authorized_keys")),
        "{printed}"
    );
    let second = public_of(&generate_as(&person, port));
    let said = server.stop();
    assert!(
        said.contains(&format!(
            "note: uid {} has no passwd entry this keyhatch can read",
            person.uid
        )) && said.contains(&format!("serving it as {}, home {home}", person.name)),
        "{said}"
    );
    let file = fs::read_to_string(&keys).unwrap();
    assert_eq!(file.lines().count(), 2, "{file}");
    assert!(file.lines().nth(1).unwrap().contains(&second), "{file}");
}

#[test]
fn the_static_binary_refuses_site_mode_pointing_to_the_package() {
    let (_unpacked, binary) = static_binary();
    let out = run(
        binary.to_str().unwrap(),
        &["--mode", "site", "check-config", "--config", "none"],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("site mode needs the system's account lookup")
            && said.contains("Install the keyhatch package (.deb or .rpm)"),
        "{said}"
    );
}

#[test]
fn make_install_puts_the_packages_files_under_prefix_and_destdir_and_uninstall_takes_them_back() {
    artefact("root/usr/bin/keyhatch");
    let dest = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh");
    let make = |action: &str| {
        let out = Command::new(&script)
            .arg(action)
            .env("DESTDIR", dest.path())
            .env("PREFIX", "/opt/k&h")
            // Nothing of the build or test tools: no cargo, no node on the way.
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "install.sh {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    make("install");
    let installed = tree(dest.path());
    let under = |path: &str| installed.get(path).map(|(mode, _)| *mode);
    assert_eq!(under("/opt/k&h/bin/keyhatch"), Some(0o755));
    assert_eq!(under("/etc/keyhatch/keyhatch.toml"), Some(0o644));
    assert_eq!(under("/etc/logrotate.d/keyhatch"), Some(0o644));
    assert_eq!(under("/opt/k&h/share/man/man8/keyhatch.8.gz"), Some(0o644));
    let unit = String::from_utf8(
        installed["/opt/k&h/lib/systemd/system/keyhatch.service"]
            .1
            .clone(),
    )
    .unwrap();
    assert!(
        unit.contains("ExecStart=/opt/k&h/bin/keyhatch --config"),
        "{unit}"
    );
    assert_eq!(installed.len(), FILES.len(), "{:?}", installed.keys());

    // A second install keeps the site's settings and logrotate file; uninstall removes all but
    // them, and the installed files to a prefix with a character sed would take for its own.
    let settings = dest.path().join("etc/keyhatch/keyhatch.toml");
    fs::write(&settings, "[keyhatch]\n# this site's\n").unwrap();
    let rotate = dest.path().join("etc/logrotate.d/keyhatch");
    fs::write(&rotate, "# this site's rotation\n").unwrap();
    let again = make("install");
    assert!(again.contains("logrotate.d/keyhatch"), "{again}");
    assert_eq!(
        fs::read_to_string(&rotate).unwrap(),
        "# this site's rotation\n"
    );
    assert_eq!(
        fs::read_to_string(&settings).unwrap(),
        "[keyhatch]\n# this site's\n"
    );
    make("uninstall");
    assert_eq!(
        tree(dest.path()).keys().collect::<Vec<_>>(),
        ["/etc/keyhatch/keyhatch.toml", "/etc/logrotate.d/keyhatch"]
    );
}

/// The binaries people install read every kind of public key the tests read. The tests' own
/// build has more of ssh-key's features (its dev-dependency takes the default ones), and the
/// packages' had no ECDSA: `keys add` refused an ecdsa-sha2-nistp256 key as "not a public key
/// sshd can read", and the page would have called such lines unreadable. Run as a throwaway
/// person, whose own authorized_keys it is.
#[test]
fn the_packaged_binaries_read_every_kind_of_key_sshd_takes() {
    let (_unpacked, static_binary) = static_binary();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/public-keys");
    // Where the person can run them: the static binary is unpacked in a directory of root's.
    let runnable = tempfile::tempdir().unwrap();
    fs::set_permissions(runnable.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for (n, binary) in [static_binary, artefact("root/usr/bin/keyhatch")]
        .iter()
        .enumerate()
    {
        let copy = runnable.path().join(format!("keyhatch-{n}"));
        fs::copy(binary, &copy).unwrap();
        let person = Account::create_person();
        for kind in [
            "ed25519",
            "ecdsa-p256",
            "ecdsa-p521",
            "rsa-3072",
            "rsa-8192",
        ] {
            let mut add = person
                .command(copy.to_str().unwrap())
                .args(["keys", "add", "-"])
                .env("KEYHATCH_CONFIG", "none")
                .current_dir("/")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let key = fs::read(fixtures.join(format!("{kind}.pub"))).unwrap();
            std::io::Write::write_all(&mut add.stdin.take().unwrap(), &key).unwrap();
            let out = add.wait_with_output().unwrap();
            let said = String::from_utf8_lossy(&out.stdout);
            let fingerprint =
                fs::read_to_string(fixtures.join(format!("{kind}.fingerprint"))).unwrap();
            assert!(
                out.status.success() && said.contains(fingerprint.trim()),
                "{} {kind}: {said}{}",
                binary.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let file = fs::read_to_string(person.home().join(".ssh/authorized_keys")).unwrap();
        assert_eq!(file.lines().count(), 5, "{file}");
    }
}
