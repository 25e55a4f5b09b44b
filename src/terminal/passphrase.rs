//! The passphrase of a key made at the terminal: asked twice with echo off, as ssh-keygen does,
//! or read from a file or standard input for a script. Never taken from an argument, which
//! every account on the node can read in `ps`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Mutex;

use rustix::termios::{self, LocalModes, OptionalActions, Termios};

use crate::ssh::Passphrase;

/// The terminal and its settings while echo is off, so that a signal can restore them; and
/// whether a signal came, after which echo is not turned off again.
static QUIET: Mutex<Quiet> = Mutex::new(Quiet {
    echo_off: None,
    stopped: false,
});

struct Quiet {
    echo_off: Option<(File, Termios)>,
    stopped: bool,
}

/// Puts the terminal back as it was before a prompt turned echo off (after Ctrl-C, say), and
/// keeps any later prompt from turning it off.
pub fn restore_terminal() {
    if let Ok(mut quiet) = QUIET.lock() {
        quiet.stopped = true;
        if let Some((tty, before)) = quiet.echo_off.take() {
            let _ = termios::tcsetattr(&tty, OptionalActions::Now, &before);
            let _ = (&tty).write_all(b"\n");
        }
    }
}

/// The longest passphrase line read from a file: more than any passphrase, less than a mistake.
const MAX_LINE: usize = 4096;

/// The passphrase from the first line of `path` ("-" for standard input), without its line end;
/// an empty line means none. Refused: no line at all (a source that failed must not make a key
/// without a passphrase), a line longer than [`MAX_LINE`] bytes, and one that is not UTF-8.
pub fn from_file(path: &Path) -> io::Result<Option<Passphrase>> {
    let line = if path == Path::new("-") {
        first_line(io::stdin().lock())?
    } else {
        first_line(private(File::open(path)?)?)?
    };
    Ok(Passphrase::new(line.to_string()))
}

/// `file`, unless other accounts may read it: the passphrase would be theirs too (red team:
/// a world-readable file was taken, where a Platform token's is refused).
fn private(file: File) -> io::Result<File> {
    use std::os::unix::fs::MetadataExt;
    let mode = file.metadata()?.mode();
    if mode & 0o077 != 0 {
        return Err(io::Error::other(format!(
            "other accounts may read it (mode {:o}): chmod 600 it, or type the passphrase when asked",
            mode & 0o777
        )));
    }
    Ok(file)
}

/// The first line of `reader`, without its `\n` or `\r\n`.
fn first_line(reader: impl Read) -> io::Result<zeroize::Zeroizing<String>> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    BufReader::new(reader.take(MAX_LINE as u64 + 2)).read_until(b'\n', &mut bytes)?;
    if bytes.is_empty() {
        return Err(io::Error::other(
            "there is no passphrase in it (not even an empty line): give --no-passphrase for a \
             key without one",
        ));
    }
    let line = match bytes.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => &bytes,
    };
    if line.len() > MAX_LINE {
        return Err(io::Error::other(format!(
            "its first line is longer than {MAX_LINE} bytes; nothing was made"
        )));
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| io::Error::other("its first line is not UTF-8 text; nothing was made"))?;
    no_nul(text)?;
    Ok(zeroize::Zeroizing::new(text.to_owned()))
}

/// Refuses a passphrase with a NUL in it: OpenSSH reads a passphrase up to its first NUL, so
/// no OpenSSH program could open the key.
fn no_nul(passphrase: &str) -> io::Result<()> {
    if passphrase.contains('\0') {
        return Err(io::Error::other(
            "the passphrase holds a NUL character, which OpenSSH cannot take; nothing was made",
        ));
    }
    Ok(())
}

/// Asks for the passphrase at the terminal twice (`/dev/tty`, echo off); `None` when both are
/// empty; an error when they differ or there is no terminal.
pub fn ask() -> io::Result<Option<Passphrase>> {
    let tty = File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            io::Error::other(
                "there is no terminal to ask the passphrase at: give --passphrase-file FILE (- \
                 for standard input) or --no-passphrase",
            )
        })?;
    let first = prompt(&tty, "Enter passphrase (empty for no passphrase): ")?;
    let second = prompt(&tty, "Enter same passphrase again: ")?;
    no_nul(&first)?;
    if first != second {
        return Err(io::Error::other(
            "the passphrases do not match; nothing was made",
        ));
    }
    Ok(Passphrase::new(first.to_string()))
}

/// Turns echo off (dropping what was typed ahead, as ssh-keygen does), writes `text` to the
/// terminal, reads a line, and restores the terminal.
fn prompt(tty: &File, text: &str) -> io::Result<zeroize::Zeroizing<String>> {
    let before = termios::tcgetattr(tty)?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    {
        // Under the lock a signal's restore takes: echo is turned off only if none came.
        let mut kept = QUIET
            .lock()
            .map_err(|_| io::Error::other("the terminal is in use"))?;
        if kept.stopped {
            return Err(io::Error::other("interrupted; nothing was made"));
        }
        kept.echo_off = Some((tty.try_clone()?, before.clone()));
        termios::tcsetattr(tty, OptionalActions::Flush, &quiet)?;
    }
    let mut out = tty;
    let mut line = zeroize::Zeroizing::new(String::new());
    let read = out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .and_then(|()| BufReader::new(tty).read_line(&mut line));
    if let Ok(mut kept) = QUIET.lock() {
        kept.echo_off = None;
    }
    termios::tcsetattr(tty, OptionalActions::Now, &before)?;
    read?;
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_file_gives_its_first_line_without_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pass");
        std::fs::write(&file, "correct horse\r\nsecond line\n").unwrap();
        let mode =
            |m| std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(m));
        mode(0o640).unwrap();
        assert!(from_file(&file).is_err(), "a file others may read");
        mode(0o600).unwrap();
        assert!(from_file(&file).unwrap().is_some());
        let line = |text: &[u8]| first_line(text).map(|l| l.to_string());
        assert_eq!(line(b"correct horse\r\nx").unwrap(), "correct horse");
        assert_eq!(line(b"ends in two\r\r\n").unwrap(), "ends in two\r");
        assert_eq!(line(b"no line end\r").unwrap(), "no line end\r");
        assert_eq!(line(b"\nx").unwrap(), "");
        std::fs::write(&file, "\n").unwrap();
        assert!(from_file(&file).unwrap().is_none());
    }

    /// Red team: a long line was cut at 4096 bytes and an empty source made a key without a
    /// passphrase, both with success.
    #[test]
    fn a_passphrase_file_that_is_empty_too_long_or_not_text_is_refused() {
        assert!(first_line(&b""[..]).is_err());
        let long = "x".repeat(MAX_LINE + 1);
        assert!(first_line(long.as_bytes()).is_err());
        assert!(first_line(format!("{long}\n").as_bytes()).is_err());
        assert_eq!(
            first_line("x".repeat(MAX_LINE).as_bytes()).unwrap().len(),
            MAX_LINE
        );
        let cut = format!("{}é\n", "a".repeat(MAX_LINE - 1));
        assert!(
            first_line(cut.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("longer than")
        );
        assert!(
            first_line(&b"\xff\xfe\n"[..])
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
    }
}
