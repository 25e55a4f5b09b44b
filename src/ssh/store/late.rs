//! What other programs append to `authorized_keys` while keyhatch rewrites it, given to the
//! file that has the name once the rewrite is done: copied whole line by whole line, each read
//! from a file still as it was, so that a line is never taken in part (a key without the
//! options that restricted it).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use rustix::fs::OFlags;

use super::dir::SshDir;
use super::lock::Locked;

/// Whether `file` now begins with `bytes`.
pub(super) fn starts_with(file: &File, bytes: &[u8]) -> io::Result<bool> {
    let mut now = vec![0; bytes.len()];
    match file.read_exact_at(&mut now, 0) {
        Ok(()) => Ok(now == bytes),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// After a rename, copies to the new file whatever an outside writer appended to the old one
/// between our last check and the rename, so nothing it wrote is lost; in pieces, however much
/// that is. False, with nothing copied since, once the old file does not begin with `old` as it
/// did: it was rewritten in place, and what lies past that length is not an append but the end
/// of their version (the tail of a line, perhaps, without the options that restricted it).
pub(super) fn give_back_late_appends(locked: &Locked, old: &[u8], new: &File) -> io::Result<bool> {
    let end = locked.file.metadata()?.len();
    let from = old.len() as u64;
    if end <= from {
        return starts_with(&locked.file, old);
    }
    let whole = copy_tail(&locked.file, from, end, new, || {
        starts_with(&locked.file, old)
    })?;
    new.sync_all()?;
    Ok(whole)
}

/// Appends `from`'s bytes between `start` and `end` to `to`, whole lines at a time, in pieces
/// of about [`LATE_PIECE`]. Each piece is copied only once, after it was read, `still` says the
/// source is still the one meant and the byte before the piece is still a line's end: a program
/// that rewrites in place what is being copied cannot have a line copied in part (a key without
/// the options that restricted it). False, with nothing more copied, when either says no, or at
/// a line longer than [`LONGEST_LINE`].
fn copy_tail(
    from: &File,
    start: u64,
    end: u64,
    to: &File,
    still: impl Fn() -> io::Result<bool>,
) -> io::Result<bool> {
    let mut piece = Vec::new();
    let mut at = start;
    while at < end {
        let Some(len) = whole_lines(from, at, end, &mut piece)? else {
            return Ok(false);
        };
        if !still()? || !(at == start || byte_at(from, at - 1)? == Some(b'\n')) {
            return Ok(false);
        }
        write_whole(to, &piece[..len])?;
        at += len as u64;
    }
    Ok(true)
}

/// Appends `lines` to `to`, or nothing: a write cut short (a full disk) is cut back, unless
/// another program has written after it, so no line is left in part for the next to be glued to.
fn write_whole(mut to: &File, lines: &[u8]) -> io::Result<()> {
    let before = to.metadata()?.len();
    let written = to.write_all(lines);
    if written.is_err() {
        let after = to.metadata()?.len();
        if after > before && after <= before + lines.len() as u64 {
            to.set_len(before)?;
        }
    }
    written
}

/// Reads into `piece` the bytes of `from` from `at`: about [`LATE_PIECE`] of them, up to the end
/// of a line, or all up to `end`. How many are whole lines (all of them, at `end`); `None` past
/// [`LONGEST_LINE`] without a line's end.
fn whole_lines(from: &File, at: u64, end: u64, piece: &mut Vec<u8>) -> io::Result<Option<usize>> {
    let mut want = (end - at).min(LATE_PIECE) as usize;
    loop {
        piece.resize(want, 0);
        from.read_exact_at(piece, at)?;
        if at + want as u64 == end {
            return Ok(Some(want));
        }
        if let Some(last) = piece.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(last + 1));
        }
        if want as u64 >= LONGEST_LINE {
            return Ok(None);
        }
        want = (want * 2).min((end - at) as usize);
    }
}

/// The byte of `file` at `at`, if it has one.
fn byte_at(file: &File, at: u64) -> io::Result<Option<u8>> {
    let mut byte = [0];
    Ok((file.read_at(&mut byte, at)? == 1).then_some(byte[0]))
}

/// The longest line a late append may have: 16 MiB, as long as the largest file keyhatch reads
/// by default (sshd's keys and options take a few kilobytes).
const LONGEST_LINE: u64 = 16 << 20;

/// The most of late appends held in memory at once.
const LATE_PIECE: u64 = 64 << 10;

/// Appends to the file the name holds whatever `from` holds past its first `start` bytes, on
/// a line of its own: a program that appended to `from` while it had the name meant it for
/// the file of that name.
pub(super) fn carry_appended(dir: &SshDir, from: &File, start: u64) -> io::Result<()> {
    let end = from.metadata()?.len();
    if end <= start {
        return Ok(());
    }
    let flags = OFlags::RDWR | OFlags::APPEND | OFlags::NONBLOCK;
    let to = dir.open_file(dir.file_name(), flags, 0)?;
    let len = to.metadata()?.len();
    let mut last = [b'\n'];
    if len > 0 {
        to.read_exact_at(&mut last, len - 1)?;
    }
    if last != [b'\n'] {
        (&to).write_all(b"\n")?;
    }
    copy_tail(from, start, end, &to, || Ok(true))?;
    to.sync_all()
}

#[cfg(test)]
mod tests;
