//! Following a text log (sshd's `-E FILE`, or syslog's): new lines are read each second from
//! where the last read stopped, and from the start of a new file once the log is rotated or
//! truncated.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use super::reading::{Reading, now};
use crate::ssh::usage::time_at_start;

/// The most read at each look: a large backlog is read over several.
const MOST_AT_ONCE: u64 = 16 << 20;

/// The longest line kept: sshd's are under 300 bytes; a longer one is skipped.
const LONGEST_LINE: usize = 64 << 10;

/// Where the last read stopped: in which file, and how far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    file: (u64, u64),
    offset: u64,
}

/// Follows `path` for ever, recording each login it reads in `reading`.
pub(super) fn follow(path: &Path, reading: &Reading) {
    let mut follower = Follower::default();
    loop {
        let read = follower.read_new(path, reading);
        reading.set_readable(read.is_ok());
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A log being followed.
#[derive(Debug, Default)]
struct Follower {
    place: Option<Place>,
    /// Whether the log was looked for before: at the first look, reading begins at its end
    /// (its lines carry no date to trust); a log that appears later is read from its start.
    looked: bool,
    /// The start of a line whose end is not written yet.
    partial: Vec<u8>,
    /// Inside a line longer than [`LONGEST_LINE`]: skipped up to its end.
    skipping: bool,
}

impl Follower {
    /// Reads what was written since the last read, and records the logins in it.
    fn read_new(&mut self, path: &Path, reading: &Reading) -> io::Result<()> {
        // Never waits on a FIFO, nor reads a device.
        let first_look = !std::mem::replace(&mut self.looked, true);
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let id = (meta.dev(), meta.ino());
        let offset = match self.place {
            Some(place) if place.file == id && place.offset <= meta.len() => place.offset,
            // Rotated, or truncated: the new file from its start.
            Some(_) => {
                self.partial.clear();
                self.skipping = false;
                0
            }
            None if first_look => meta.len(),
            None => 0,
        };
        let read = read_from(&mut file, offset)?;
        self.place = Some(Place {
            file: id,
            offset: offset + read.len() as u64,
        });
        self.record(&read, reading);
        Ok(())
    }

    /// Records every whole line of `read` (after what was left of the last), keeping the end
    /// of an unfinished one.
    fn record(&mut self, mut read: &[u8], reading: &Reading) {
        if self.skipping {
            // The rest of an over-long line is no line of its own.
            let Some(end) = read.iter().position(|&b| b == b'\n') else {
                return;
            };
            read = &read[end + 1..];
            self.skipping = false;
        }
        self.partial.extend_from_slice(read);
        let Some(last) = self.partial.iter().rposition(|&b| b == b'\n') else {
            if self.partial.len() > LONGEST_LINE {
                self.partial.clear();
                self.skipping = true;
            }
            return;
        };
        let whole: Vec<u8> = self.partial.drain(..=last).collect();
        let lines = whole
            .split(|&b| b == b'\n')
            .filter(|line| line.len() <= LONGEST_LINE)
            .map(String::from_utf8_lossy)
            .collect::<Vec<_>>();
        reading.record(
            lines
                .iter()
                .map(|line| (line.as_ref(), time_at_start(line))),
            now(),
        );
    }
}

/// At most [`MOST_AT_ONCE`] bytes of `file` from `offset`.
fn read_from(file: &mut File, offset: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut read = Vec::new();
    file.take(MOST_AT_ONCE).read_to_end(&mut read)?;
    Ok(read)
}
