//! The keys a listing holds, bounded in number and in text whatever the file: a person's own
//! 16 MiB file of 150,000 keys made a 178 MB page that took 2 GB to build.

use std::collections::VecDeque;

/// The most keys a listing holds. A page of 2,000 ordinary keys is about 2.5 MB of HTML.
pub const LISTED_AT_MOST: usize = 2_000;

/// The most text the keys a listing holds may have, their `.pub` lines and options together,
/// each character counted as the most it takes escaped (see [`escaped_size`]): 2,000 keys
/// keyhatch wrote take about 300 KiB. A page shows a key's text up to four times over (its
/// label, its comment, and both in the page's data): a page with both lists full is about
/// 4 MB at most (red team: 8 MB with 512 KiB, non-ASCII counted as 1).
pub const LISTED_TEXT_AT_MOST: usize = 384 << 10;

/// The most text one listed key may have: far more than any key keyhatch writes (under
/// 2 KiB), or a 16,384-bit RSA key with options. A longer one, written by hand, is not listed,
/// so that it cannot take the place of every other.
pub const KEY_TEXT_AT_MOST: usize = 8 << 10;

/// Keys kept within the bounds, in file order, each with its text's size, and how many were
/// left out.
#[derive(Debug)]
pub(super) struct Kept<T> {
    keys: VecDeque<(usize, T)>,
    text: usize,
    left_out: usize,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Self {
            keys: VecDeque::new(),
            text: 0,
            left_out: 0,
        }
    }
}

impl<T> Kept<T> {
    /// Keeps `key`, whose text is `text` long, as the newest, leaving out the oldest kept while
    /// either bound is passed; a key longer than [`KEY_TEXT_AT_MOST`] is left out itself.
    pub fn newest(&mut self, text: usize, key: T) {
        if text > KEY_TEXT_AT_MOST {
            self.left_out += 1;
            return;
        }
        self.text += text;
        self.keys.push_back((text, key));
        while self.keys.len() > LISTED_AT_MOST || self.text > LISTED_TEXT_AT_MOST {
            if let Some((oldest, _)) = self.keys.pop_front() {
                self.text -= oldest;
                self.left_out += 1;
            }
        }
    }

    /// Keeps `key`, whose text is `text` long, after those kept where it fits within the
    /// bounds; leaves it out otherwise.
    pub fn first(&mut self, text: usize, key: T) {
        let fits = text <= KEY_TEXT_AT_MOST
            && self.keys.len() < LISTED_AT_MOST
            && self.text + text <= LISTED_TEXT_AT_MOST;
        if fits {
            self.text += text;
            self.keys.push_back((text, key));
        } else {
            self.left_out += 1;
        }
    }

    /// These keys, kept newest first, followed by those kept of the next run of lines.
    pub fn then_newest(mut self, next: Self) -> Self {
        self.left_out += next.left_out;
        for (text, key) in next.keys {
            self.newest(text, key);
        }
        self
    }

    /// These keys, kept first first, followed by those kept of the next run of lines.
    pub fn then_first(mut self, next: Self) -> Self {
        self.left_out += next.left_out;
        for (text, key) in next.keys {
            self.first(text, key);
        }
        self
    }

    /// The keys kept, in file order, and how many were left out.
    pub fn into_parts(self) -> (Vec<T>, usize) {
        (
            self.keys.into_iter().map(|(_, key)| key).collect(),
            self.left_out,
        )
    }
}

/// The size of `texts` together, each character counted as the most HTML or JSON makes of it:
/// 6 for a control character (`\u0001`) or one they escape (`&quot;`), 3 for each byte of
/// one beyond ASCII (the page's data writes U+0085 as `\u{85}`, U+10FFFD as `\u{10fffd}`), 1
/// for any other.
pub(super) fn escaped_size(texts: &[&str]) -> usize {
    let cost = |byte: u8| match byte {
        0..=0x1f | 0x7f | b'<' | b'>' | b'&' | b'"' | b'\'' | b'\\' => 6,
        0x80.. => 3,
        _ => 1,
    };
    texts.iter().flat_map(|text| text.bytes()).map(cost).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Red team (helper-46): a character beyond ASCII was counted as its bytes, but the page's
    /// data writes U+0085 as `\u{85}` (6 bytes for 2), so a page of them was twice the bound.
    #[test]
    fn text_is_counted_as_the_most_a_page_makes_of_it() {
        assert_eq!(escaped_size(&["abc"]), 3);
        assert_eq!(escaped_size(&["<", "\"", "\u{1}"]), 18);
        assert_eq!(escaped_size(&["\u{85}"]), 6);
        assert_eq!(escaped_size(&["\u{10fffd}"]), 12);
        assert!(escaped_size(&["\u{85}"]) >= r"\u{85}".len());
        assert!(escaped_size(&["\u{10fffd}"]) >= r"\u{10fffd}".len());
    }

    #[test]
    fn the_newest_keys_are_kept_within_both_bounds_and_a_long_one_is_left_out() {
        let mut kept = Kept::default();
        for i in 0..LISTED_AT_MOST + 5 {
            kept.newest(100, i);
        }
        kept.newest(KEY_TEXT_AT_MOST + 1, usize::MAX);
        let (keys, left_out) = kept.into_parts();
        assert_eq!(keys.len(), LISTED_AT_MOST);
        assert_eq!((keys[0], *keys.last().unwrap()), (5, LISTED_AT_MOST + 4));
        assert_eq!(left_out, 6);
        let mut first = Kept::default();
        let fit = LISTED_TEXT_AT_MOST / KEY_TEXT_AT_MOST;
        for i in 0..fit + 12 {
            first.first(KEY_TEXT_AT_MOST, i);
        }
        let (keys, left_out) = first.into_parts();
        assert_eq!((keys, left_out), ((0..fit).collect::<Vec<_>>(), 12));
    }
}
