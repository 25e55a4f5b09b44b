//! Listing a file: keyhatch's keys, read in parallel runs of whole lines for a large file, and
//! what else the file holds. The last listing is remembered with the bytes it was read from, so
//! the same file listed again (each page load, a script polling) costs a comparison rather than
//! parsing and hashing every key.
//!
//! A listing is bounded, whatever the file: at most [`kept::LISTED_AT_MOST`] keys of each kind, of
//! [`kept::LISTED_TEXT_AT_MOST`] bytes, and [`UNREADABLE_NAMED_AT_MOST`] line numbers, and says how
//! many more there are. A person's own 16 MiB file of 150,000 keys made a 178 MB page that took
//! 2 GB to build, after their slot in the service was given back, so a few page loads at once
//! stopped the service for everyone.

use std::sync::Mutex;

use super::authorized_keys;
use super::expiry::Expiry;
use super::fingerprint::fingerprint;
use super::keygen;
use super::operations::Error;
use super::options;
use super::store::AuthorizedKeys;
use super::tag::Tag;
use super::values::KeyOptions;
use kept::Kept;

pub mod kept;

/// A key listed from `authorized_keys`, detached from the file's bytes. Its type and comment are
/// in its `.pub` line, not kept twice: a list of 1,000 keys is two allocations per key lighter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    /// `SHA256:` fingerprint, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The comment after its first word: for keyhatch's keys, the label the person gave.
    pub label: Option<String>,
    /// The options field (`restrict,pty`, …), invalid UTF-8 replaced; empty when none.
    pub options: String,
    /// When sshd stops accepting the key, from its `expiry-time` option.
    pub expiry: Option<Expiry>,
    /// Where sshd lets the key in from: its `from=` pattern list as the line has it (invalid
    /// UTF-8 replaced); `None` for anywhere.
    pub allowed_from: Option<String>,
    /// The public key as a `.pub` file holds it: `type base64 comment`, the comment's invalid
    /// UTF-8 replaced.
    pub public_line: String,
}

/// The most line numbers a listing gives of lines sshd cannot read: the first ones.
pub const UNREADABLE_NAMED_AT_MOST: usize = 100;

/// The keys of the file that keyhatch did not make, for reading only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherKeys {
    /// The first readable keys whose comment does not start with the tag, in file order, as
    /// many as fit within [`kept::LISTED_AT_MOST`] and [`kept::LISTED_TEXT_AT_MOST`].
    pub keys: Vec<ListedKey>,
    /// How many more such keys the file holds.
    pub keys_not_listed: usize,
    /// How many lines sshd cannot read.
    pub unreadable_lines: usize,
}

/// What the list of keyhatch keys shows, and what else the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// keyhatch's newest keys (first comment word equals the tag), as many as fit within
    /// [`kept::LISTED_AT_MOST`] and [`kept::LISTED_TEXT_AT_MOST`], in file order: newest last.
    pub keys: Vec<ListedKey>,
    /// How many more keyhatch keys the file holds: older ones, or ones too long to list.
    pub keys_not_listed: usize,
    /// How many readable keys are someone else's.
    pub other_keys: usize,
    /// The first [`UNREADABLE_NAMED_AT_MOST`] line numbers sshd cannot read; kept in the
    /// file, never an error.
    pub unreadable_lines: Vec<usize>,
    /// How many more lines sshd cannot read.
    pub unreadable_lines_not_listed: usize,
}

/// Lists the keys tagged `tag` in the store's file; a missing file is an empty list.
pub fn list_keys(store: &AuthorizedKeys, tag: &Tag) -> Result<Listing, Error> {
    let contents = store.read()?;
    if let Some(listing) = LAST_LISTING.of(tag, &contents) {
        return Ok(listing);
    }
    let listing = parse_listing(&contents, tag);
    LAST_LISTING.keep(tag, contents, &listing);
    Ok(listing)
}

/// The listing of `contents` for `tag`.
fn parse_listing(contents: &[u8], tag: &Tag) -> Listing {
    let parts = read_in_parallel(contents, |first, run| {
        let (mut kept, mut listing) = (Kept::default(), Listing::default());
        for (number, line) in authorized_keys::classify(first, run) {
            match line {
                authorized_keys::Line::Key(key) if key.is_tagged(tag) => {
                    let key = ListedKey::from(&key);
                    kept.newest(key.text(), key);
                }
                authorized_keys::Line::Key(_) => listing.other_keys += 1,
                authorized_keys::Line::Unreadable => listing.note_unreadable(number),
                authorized_keys::Line::Ignored => {}
            }
        }
        (kept, listing)
    });
    let (kept, mut listing) = parts
        .into_iter()
        .reduce(|(kept, listing), (next_kept, next)| {
            (kept.then_newest(next_kept), listing.then(next))
        })
        .unwrap_or_default();
    (listing.keys, listing.keys_not_listed) = kept.into_parts();
    listing
}

/// The largest file whose listing is remembered: 10,000 ordinary keys are 1.06 MB.
const REMEMBERED_SIZE: usize = 2 << 20;

/// The last listing made, whatever file it came from: a listing is a function of the bytes and
/// the tag alone.
static LAST_LISTING: LastListing = LastListing(Mutex::new(None));

/// A listing with the tag and the exact bytes it was made from; public keys and what sshd
/// reads beside them, in memory only. It is given again only for the same bytes, so an edit
/// by any program, however quick, is always seen.
#[derive(Debug)]
struct LastListing(Mutex<Option<Remembered>>);

#[derive(Debug)]
struct Remembered {
    tag: Tag,
    contents: Vec<u8>,
    listing: Listing,
}

impl LastListing {
    /// The listing remembered for `tag` and exactly `contents`.
    fn of(&self, tag: &Tag, contents: &[u8]) -> Option<Listing> {
        let last = self.0.lock().ok()?;
        let last = last.as_ref()?;
        (last.tag == *tag && last.contents == contents).then(|| last.listing.clone())
    }

    /// Remembers `listing`, made for `tag` from `contents`, in place of the last one.
    fn keep(&self, tag: &Tag, contents: Vec<u8>, listing: &Listing) {
        if contents.len() > REMEMBERED_SIZE {
            return;
        }
        if let Ok(mut last) = self.0.lock() {
            *last = Some(Remembered {
                tag: tag.clone(),
                contents,
                listing: listing.clone(),
            });
        }
    }
}

/// Below this, a file is read on one thread: starting another costs more than it saves.
pub(super) const PARALLEL_RUN: usize = 64 * 1024;

/// `read` over runs of whole lines of `contents` (given the number of the run's first line),
/// one run per core for a large file, so that listing 10,000 lines takes half the time on two
/// cores; the results in file order. Where no thread can be started (the account is at its
/// process limit), the runs are read on this one.
fn read_in_parallel<T: Send>(contents: &[u8], read: impl Fn(usize, &[u8]) -> T + Sync) -> Vec<T> {
    // Asked once: the answer reads the process's cgroup files each time.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
    let runs = authorized_keys::runs_of_lines(contents, cores.min(contents.len() / PARALLEL_RUN));
    let read = &read;
    std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let here = runs.next();
        let started: Vec<_> = runs
            .map(|(first, run)| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || read(first, run))
                    .map_err(|_| (first, run))
            })
            .collect();
        here.map(|(first, run)| read(first, run))
            .into_iter()
            .chain(started.into_iter().map(|thread| {
                match thread {
                    Ok(thread) => thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err((first, run)) => read(first, run),
                }
            }))
            .collect()
    })
}

/// Lists the keys of the store's file that are not tagged `tag`, with their options, and counts
/// the lines sshd cannot read; a missing file has none.
pub fn other_keys(store: &AuthorizedKeys, tag: &Tag) -> Result<OtherKeys, Error> {
    let contents = store.read()?;
    let parts = read_in_parallel(&contents, |first, run| {
        let (mut kept, mut unreadable) = (Kept::default(), 0);
        for (_, line) in authorized_keys::classify(first, run) {
            match line {
                authorized_keys::Line::Key(key) if !key.is_tagged(tag) => {
                    let key = ListedKey::from(&key);
                    kept.first(key.text(), key);
                }
                authorized_keys::Line::Unreadable => unreadable += 1,
                authorized_keys::Line::Key(_) | authorized_keys::Line::Ignored => {}
            }
        }
        (kept, unreadable)
    });
    let (kept, unreadable_lines) = parts
        .into_iter()
        .reduce(|(kept, unreadable), (next_kept, next)| {
            (kept.then_first(next_kept), unreadable + next)
        })
        .unwrap_or_default();
    let (keys, keys_not_listed) = kept.into_parts();
    Ok(OtherKeys {
        keys,
        keys_not_listed,
        unreadable_lines,
    })
}

impl Listing {
    /// This listing's other keys and unreadable lines, then those of the next run of lines.
    fn then(mut self, next: Self) -> Self {
        self.other_keys += next.other_keys;
        self.unreadable_lines_not_listed += next.unreadable_lines_not_listed;
        for number in next.unreadable_lines {
            self.note_unreadable(number);
        }
        self
    }

    /// Counts line `number`, which sshd cannot read, and names it while there is room.
    fn note_unreadable(&mut self, number: usize) {
        if self.unreadable_lines.len() < UNREADABLE_NAMED_AT_MOST {
            self.unreadable_lines.push(number);
        } else {
            self.unreadable_lines_not_listed += 1;
        }
    }
}

impl ListedKey {
    /// The text of this key a listing holds, as [`kept::escaped_size`] counts it: its `.pub`
    /// line and its options (its label and its addresses are parts of them).
    fn text(&self) -> usize {
        kept::escaped_size(&[&self.public_line, &self.options])
    }

    /// What the list will show for `key` once written with `options`: its line read back.
    pub fn as_written(key: &ssh_key::PublicKey, options: &KeyOptions) -> Self {
        let line = keygen::authorized_line(key, options).unwrap_or_default();
        match authorized_keys::parse_line(1, line.as_bytes()) {
            authorized_keys::Line::Key(key) => Self::from(&key),
            // A key that encodes always reads back; this is the same key, undecorated.
            _ => Self {
                fingerprint: fingerprint(key),
                label: None,
                options: options.as_str().to_owned(),
                expiry: None,
                allowed_from: None,
                public_line: key.to_openssh().unwrap_or_default(),
            },
        }
    }
}

impl From<&authorized_keys::KeyLine<'_>> for ListedKey {
    fn from(key: &authorized_keys::KeyLine<'_>) -> Self {
        let public_line = key.public_line();
        let comment = public_line.splitn(3, ' ').nth(2).unwrap_or_default();
        let label = comment
            .split_once([' ', '\t'])
            .map(|(_, rest)| rest.trim_matches([' ', '\t']))
            .filter(|rest| !rest.is_empty())
            .map(str::to_owned);
        Self {
            fingerprint: key.fingerprint(),
            label,
            options: authorized_keys::lossy(key.options).into_owned(),
            expiry: Expiry::of_options(key.options),
            allowed_from: options::value_of(key.options, "from")
                .map(|v| authorized_keys::lossy(v).into_owned()),
            public_line,
        }
    }
}
