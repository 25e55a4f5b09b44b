//! Reading `authorized_keys` the way sshd does, for display only.
//!
//! Lines are opaque bytes: this module never rewrites one. It splits each line the way OpenSSH's
//! `auth2-pubkeyfile.c` does (leading blanks skipped, `#` a comment only at the start, options
//! before the key with `"…"` quoting and `\"` escapes, tabs as separators) and lets ssh-key decode
//! only the key itself. ssh-key's own `AuthorizedKeys` is not used because it cuts lines at any `#`
//! and fails the whole file on one bad line.

use std::borrow::Cow;

use base64::prelude::BASE64_STANDARD;
use base64::{DecodeSliceError, Engine};
use ssh_key::PublicKey;

use super::fingerprint::fingerprint;
use super::tag::Tag;

/// A key line that sshd would read, parsed for display.
#[derive(Debug, Clone)]
pub struct KeyLine<'a> {
    /// 1-based line number in the file.
    pub number: usize,
    /// The options field (`restrict,pty`, …), empty when the line has none.
    pub options: &'a [u8],
    /// The decoded public key.
    pub key: PublicKey,
    /// The key's base64 field as the line has it.
    pub blob: &'a [u8],
    /// Whether `blob` is the key in another form than its own (white space in it, a name or
    /// integers written otherwise), all of which sshd reads as this key.
    pub written_otherwise: bool,
    /// Everything after the key, trailing blanks removed; may be any bytes.
    pub comment: &'a [u8],
}

impl KeyLine<'_> {
    /// The key's fingerprint as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.key)
    }

    /// The key as a `.pub` file holds it: `type base64 comment`, the comment as text. The base64
    /// is the line's own (it decoded to this key), so nothing is encoded again, unless it is
    /// written otherwise than the key's own form.
    pub fn public_line(&self) -> String {
        let comment = self.comment_lossy();
        let mut line = String::with_capacity(self.blob.len() + comment.len() + 40);
        line.push_str(self.key.algorithm().as_str());
        line.push(' ');
        if self.written_otherwise {
            let bytes = self.key.to_bytes().unwrap_or_default();
            line.push_str(&BASE64_STANDARD.encode(bytes));
        } else {
            line.push_str(&lossy(self.blob));
        }
        if !comment.is_empty() {
            line.push(' ');
            line.push_str(&comment);
        }
        line
    }

    /// The comment as text, with invalid UTF-8 replaced, for display; borrowed when valid.
    pub fn comment_lossy(&self) -> Cow<'_, str> {
        lossy(self.comment)
    }

    /// Whether keyhatch made this key: the first word of its comment equals the tag, exactly.
    pub fn is_tagged(&self, tag: &Tag) -> bool {
        self.comment
            .split(u8::is_ascii_whitespace)
            .next()
            .is_some_and(|first| first == tag.as_str().as_bytes())
    }
}

/// What one line of the file is.
#[derive(Debug, Clone)]
// A `Line` lives only while `parse` sorts it, moved once into the list: boxing the key would
// cost an allocation per key line for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Line<'a> {
    /// Empty, blanks only, or a `#` comment: sshd skips it.
    Ignored,
    /// A key sshd would consider.
    Key(KeyLine<'a>),
    /// A line sshd cannot read (it logs and skips it); kept in the file untouched.
    Unreadable,
}

/// The whole file split into lines, each classified.
#[derive(Debug, Clone, Default)]
pub struct Parsed<'a> {
    /// The readable key lines, in file order.
    pub keys: Vec<KeyLine<'a>>,
    /// 1-based numbers of the lines sshd cannot read.
    pub unreadable: Vec<usize>,
}

/// Classifies every line of an `authorized_keys` file's contents.
pub fn parse(contents: &[u8]) -> Parsed<'_> {
    let mut parsed = Parsed::default();
    for (number, line) in classify(1, contents) {
        match line {
            Line::Ignored => {}
            Line::Key(key) => parsed.keys.push(key),
            Line::Unreadable => parsed.unreadable.push(number),
        }
    }
    parsed
}

/// Every line of `run` with its number, classified one at a time: `run` is the whole file
/// (`first` 1) or a run of whole lines cut from it by [`runs_of_lines`], whose first line is
/// line `first` of the file. For a caller that keeps little of each line, unlike [`parse`].
pub fn classify(first: usize, run: &[u8]) -> impl Iterator<Item = (usize, Line<'_>)> {
    lines(run)
        .enumerate()
        .map(move |(index, line)| (first + index, parse_line(first + index, line)))
}

/// Cuts `contents` into at most `parts` runs of whole lines of about the same size, to be read
/// on several threads; each comes with the number its first line has in the file. Read in
/// order, the runs' lines are the file's lines.
pub fn runs_of_lines(contents: &[u8], parts: usize) -> Vec<(usize, &[u8])> {
    let mut runs = Vec::with_capacity(parts);
    let (mut rest, mut first) = (contents, 1);
    for left in (1..=parts.max(1)).rev() {
        if rest.is_empty() {
            break;
        }
        let share = rest.len() / left;
        let cut = if left == 1 {
            rest.len()
        } else {
            memchr::memchr(b'\n', &rest[share..]).map_or(rest.len(), |at| share + at + 1)
        };
        let (run, tail) = rest.split_at(cut);
        runs.push((first, run));
        first += memchr::memchr_iter(b'\n', run).count();
        rest = tail;
    }
    runs
}

/// Splits contents into lines without their `\n`; a final line without one still counts.
fn lines(contents: &[u8]) -> impl Iterator<Item = &[u8]> {
    lines_with_newlines(contents).map(|line| line.strip_suffix(b"\n").unwrap_or(line))
}

/// The one rule for what a line is: up to and including each `\n`, and whatever follows the
/// last one. Line `n` (1-based) of [`parse`] is item `n - 1` here.
fn lines_with_newlines(contents: &[u8]) -> impl Iterator<Item = &[u8]> {
    contents.split_inclusive(|&b| b == b'\n')
}

/// `contents` without the lines numbered `numbers` (1-based, as [`parse`] numbers them), every
/// other byte kept.
pub fn without_lines(contents: &[u8], numbers: &[usize]) -> Vec<u8> {
    lines_with_newlines(contents)
        .enumerate()
        .filter(|(index, _)| !numbers.contains(&(index + 1)))
        .flat_map(|(_, line)| line.iter().copied())
        .collect()
}

/// `contents` with each line numbered `number` (1-based, as [`parse`] numbers them) given its
/// new options field; every other byte kept, and on each such line everything from its key
/// type on (key, comment, line ending).
pub fn with_new_options(contents: &[u8], new: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 256);
    for (index, line) in lines_with_newlines(contents).enumerate() {
        match new.iter().find(|(number, _)| *number == index + 1) {
            Some((_, options)) => {
                // Where the key starts, found as `parse_line` finds it.
                let body = line.strip_suffix(b"\n").unwrap_or(line);
                let body = skip_blanks(body.strip_suffix(b"\r").unwrap_or(body));
                let skip = match read_key(body) {
                    Some(_) => 0,
                    None => options_len(body).unwrap_or(0),
                };
                let rest = skip_blanks(line);
                let key_on = skip_blanks(&rest[skip..]);
                out.extend_from_slice(options);
                if !options.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(key_on);
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

/// Classifies one line (without its `\n`), `number` being its 1-based position.
pub fn parse_line(number: usize, line: &[u8]) -> Line<'_> {
    // sshd reads a line as a C string: a NUL ends it.
    let line = line.split(|&b| b == 0).next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = skip_blanks(line);
    if rest.is_empty() || rest[0] == b'#' {
        return Line::Ignored;
    }
    // Like sshd: try a bare key first, and only when that fails read options before it.
    if let Some(key) = read_key(rest) {
        return Line::Key(KeyLine { number, ..key });
    }
    let Some(options_len) = options_len(rest) else {
        return Line::Unreadable;
    };
    match read_key(skip_blanks(&rest[options_len..])) {
        Some(key) => Line::Key(KeyLine {
            number,
            options: &rest[..options_len],
            ..key
        }),
        None => Line::Unreadable,
    }
}

/// Length of the options field at the start of `s`: up to the first blank outside quotes,
/// treating `\"` as an escaped quote. `None` when a quote is left open (sshd rejects the line).
pub(crate) fn options_len(s: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut i = 0;
    while i < s.len() && (quoted || !is_blank(s[i])) {
        if s[i] == b'\\' && s.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if s[i] == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    (!quoted).then_some(i)
}

/// Reads `type base64 [comment]` as a line without options, numbered 0; `None` when the type is
/// unknown or the blob does not decode to a key of that type (sshd's checks).
fn read_key(s: &[u8]) -> Option<KeyLine<'_>> {
    let (kind, rest) = split_word(s);
    let (blob, rest) = split_word(skip_blanks(rest));
    if kind.is_empty() || blob.is_empty() {
        return None;
    }
    // The fields are decoded here rather than by `PublicKey::from_openssh`, which splits on
    // spaces only (sshd also takes tabs) and decodes base64 in constant time: a public key is
    // no secret, and this is most of the time it takes to list a large file.
    // Decoded on the stack, as every key is but RSA beyond 4096 bits: no allocation per line.
    let mut stack = [0; 640];
    let heap;
    let mut otherwise = false;
    let bytes = match BASE64_STANDARD.decode_slice(blob, &mut stack) {
        Ok(len) => &stack[..len],
        // sshd's base64 decoder skips white space anywhere in the field: a copy of a key with
        // a vertical tab, form feed or carriage return inside it still logs in (red team),
        // however long the key (a key too long for the stack fails on its length first).
        Err(_) if blob.iter().any(|b| SKIPPED.contains(b)) => {
            let bare: Vec<u8> = blob
                .iter()
                .copied()
                .filter(|b| !SKIPPED.contains(b))
                .collect();
            heap = BASE64_STANDARD.decode(bare).ok()?;
            otherwise = true;
            &heap[..]
        }
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            heap = BASE64_STANDARD.decode(blob).ok()?;
            &heap[..]
        }
        Err(DecodeSliceError::DecodeError(_)) => return None,
    };
    let key = match PublicKey::from_bytes(bytes) {
        Ok(key) => key,
        Err(_) => {
            otherwise = true;
            PublicKey::from_bytes(&sshd_form::canonical(bytes)?).ok()?
        }
    };
    let algorithm = key.algorithm();
    // sshd takes other names of a type for it (`rsa-sha2-512` for `ssh-rsa`: red team).
    let named = algorithm.as_str().as_bytes() == kind
        || sshd_form::same_type(kind) == Some(algorithm.as_str());
    named.then(|| KeyLine {
        number: 0,
        options: &[],
        key,
        blob,
        written_otherwise: otherwise,
        comment: trim_end_blanks(skip_blanks(rest)),
    })
}

/// The white space (C's `isspace`) that sshd's base64 decoder skips inside a key's field, where
/// blanks cannot be (they end the field) and a line break cannot be (it ends the line).
const SKIPPED: [u8; 3] = [0x0b, 0x0c, b'\r'];

/// Splits off the first run of non-blank bytes.
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    let end = memchr::memchr2(b' ', b'\t', s).unwrap_or(s.len());
    s.split_at(end)
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    &s[start..]
}

fn trim_end_blanks(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
    &s[..end]
}

/// `bytes` as text, invalid UTF-8 replaced; borrowed when valid, as nearly every line is.
/// (`String::from_utf8_lossy` would give the same, but checks byte by byte: `from_utf8` takes
/// ASCII a word at a time, and a listing's text is nearly all ASCII.)
pub fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// sshd separates fields with spaces and tabs only.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

mod sshd_form;
#[cfg(test)]
mod tests;
