//! The passphrase of a key made at the terminal: asked twice with echo off, as ssh-keygen does,
//! or read from a file or standard input for a script. Never taken from an argument, which
//! every account on the node can read in `ps`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use rustix::termios::{self, LocalModes, OptionalActions};

use crate::ssh::Passphrase;

/// The longest passphrase line read from a file: more than any passphrase, less than a mistake.
const MAX_LINE: u64 = 4096;

/// The passphrase from the first line of `path` ("-" for standard input), without its line end;
/// an empty line means none.
pub fn from_file(path: &Path) -> io::Result<Option<Passphrase>> {
    let line = if path == Path::new("-") {
        first_line(io::stdin().lock())?
    } else {
        first_line(File::open(path)?)?
    };
    Ok(Passphrase::new(line))
}

/// The first line of `reader`, without its `\n` or `\r\n`.
fn first_line(reader: impl Read) -> io::Result<String> {
    let mut line = String::new();
    BufReader::new(reader.take(MAX_LINE)).read_line(&mut line)?;
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
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
    termios::tcsetattr(tty, OptionalActions::Flush, &quiet)?;
    let mut out = tty;
    let mut line = zeroize::Zeroizing::new(String::new());
    let read = out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .and_then(|()| BufReader::new(tty).read_line(&mut line));
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
        assert!(from_file(&file).unwrap().is_some());
        assert_eq!(
            first_line("correct horse\r\nx".as_bytes()).unwrap(),
            "correct horse"
        );
        assert_eq!(first_line("\nx".as_bytes()).unwrap(), "");
        std::fs::write(&file, "\n").unwrap();
        assert!(from_file(&file).unwrap().is_none());
    }
}
