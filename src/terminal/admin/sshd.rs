//! Which OpenSSH this node's sshd is: from 9.1 it reads an `expiry-time` ending in `Z` (or
//! `UTC`) as UTC; before, such a value is invalid and the whole line refused.

use std::process::Stdio;
use std::time::Duration;

/// Where sshd is looked for, in order.
const SSHD: [&str; 3] = ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"];

/// This node's sshd, as `sshd -V` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sshd {
    /// The major and minor version, when found.
    pub version: Option<(u32, u32)>,
}

impl Sshd {
    /// Asks the first sshd found for its version (`sshd -V`; an older one that does not know
    /// `-V` prints it in its usage), within 5 seconds; unknown when none answers.
    pub async fn here() -> Self {
        for path in SSHD {
            if !std::path::Path::new(path).exists() {
                continue;
            }
            let asked = tokio::process::Command::new(path)
                .arg("-V")
                .env_clear()
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output();
            if let Ok(Ok(out)) = tokio::time::timeout(Duration::from_secs(5), asked).await {
                let text = [out.stderr, out.stdout].concat();
                let version = version_in(&String::from_utf8_lossy(&text));
                if version.is_some() {
                    return Self { version };
                }
            }
        }
        Self { version: None }
    }

    /// Whether it reads a trailing `Z` as UTC (OpenSSH 9.1 and later); `None` when unknown.
    pub fn reads_utc(&self) -> Option<bool> {
        self.version.map(|v| v >= (9, 1))
    }

    /// How it reads `expiry-time`, in one sentence.
    pub fn describe(&self) -> String {
        match self.version {
            Some((major, minor)) if self.reads_utc() == Some(true) => format!(
                "sshd is OpenSSH {major}.{minor}: expiry-time is read in this node's local \
                 time, and a trailing Z as UTC"
            ),
            Some((major, minor)) => format!(
                "sshd is OpenSSH {major}.{minor}: expiry-time is read in this node's local \
                 time; a trailing Z is not read (such a key is refused from the start) and is \
                 swept once its time has passed in UTC"
            ),
            None => "sshd's version is unknown: expiry-time is read in this node's local time, \
                     and a trailing Z as UTC, when any sshd refuses it"
                .to_owned(),
        }
    }
}

/// The major and minor version in `sshd -V`'s words (`OpenSSH_9.2p1 Debian-2, OpenSSL …`).
fn version_in(text: &str) -> Option<(u32, u32)> {
    let rest = &text[text.find("OpenSSH_")? + "OpenSSH_".len()..];
    let digits = |s: &str| -> Option<(u32, usize)> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        Some((s[..end].parse().ok()?, end))
    };
    let (major, end) = digits(rest)?;
    let rest = rest[end..].strip_prefix('.')?;
    let (minor, _) = digits(rest)?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_sshds_words_and_z_from_9_1() {
        let el8 = "unknown option -- V\nOpenSSH_8.0p1, OpenSSL 1.1.1k  FIPS 25 Mar 2021\nusage: …";
        assert_eq!(version_in(el8), Some((8, 0)));
        assert_eq!(version_in("OpenSSH_8.7p1, OpenSSL 3.0.7"), Some((8, 7)));
        assert_eq!(version_in("OpenSSH_9.2p1 Debian-2+deb12u3"), Some((9, 2)));
        assert_eq!(version_in("OpenSSH_10.0p2"), Some((10, 0)));
        assert_eq!(version_in("sshd: command not found"), None);
        let reads = |version| Sshd { version }.reads_utc();
        assert_eq!(reads(Some((8, 7))), Some(false));
        assert_eq!(reads(Some((9, 0))), Some(false));
        assert_eq!(reads(Some((9, 1))), Some(true));
        assert_eq!(reads(Some((10, 0))), Some(true));
        assert_eq!(reads(None), None);
    }
}
