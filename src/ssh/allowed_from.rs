//! Where a key may log in from: OpenSSH's `from="pattern-list"` option, checked as sshd reads
//! it (`match_host_and_ip` in `match.c`, `addr_match_list` in `addrmatch.c`).
//!
//! sshd lets a key in when the client's address or name matches one of the list's patterns and
//! none of its `!` exceptions. A pattern is an address with an optional prefix length
//! (`10.1.0.0/16`, `2001:db8::/32`) or a wildcard pattern (`*` any run, `?` one character)
//! matched against the address as text and against the host name. A malformed prefix makes
//! sshd refuse the key from everywhere, and an unclosed quote or a second `from=` makes it skip
//! the whole line: keyhatch refuses those with a sentence rather than write them.

use std::fmt;

use super::options::{split_options, unquote};
pub use pattern::InvalidFrom;
use pattern::{Listed, Pattern, Relation};

/// The longest pattern list keyhatch writes, in bytes: far beyond any site's egress ranges,
/// well within the line sshd reads.
pub const MAX_LEN: usize = 1024;

/// Where a key may log in from: patterns that let it in, and exceptions that keep it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedFrom {
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
}

/// A pattern list the site defines and people choose by its name, such as `seqera-cloud`
/// for the addresses Seqera Cloud connects from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFrom {
    /// The name people choose: lower-case letters, digits and `-`.
    pub name: String,
    /// Its patterns.
    pub from: AllowedFrom,
}

impl NamedFrom {
    /// Reads `NAME=PATTERNS`, as the `from-lists` setting holds it.
    pub fn parse(text: &str) -> Result<Self, InvalidFrom> {
        let (name, patterns) = text.split_once('=').unwrap_or((text, ""));
        let name = name.trim();
        let good_name = (1..=40).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !good_name || patterns.trim().is_empty() {
            return Err(InvalidFrom(format!(
                "{text:?} is not NAME=PATTERNS, like seqera-cloud=203.0.113.0/24,198.51.100.7 (a name of lower-case letters, digits and -)"
            )));
        }
        let from = AllowedFrom::parse(patterns)
            .map_err(|e| InvalidFrom(format!("the list {name}: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            from,
        })
    }
}

/// What a person chose under "Allow logins only from": nothing or `anywhere` for anywhere, the
/// name of one of the site's `lists`, or patterns of their own.
pub fn chosen(text: &str, lists: &[NamedFrom]) -> Result<Option<AllowedFrom>, InvalidFrom> {
    let text = text.trim();
    if text.is_empty() || text == "anywhere" {
        return Ok(None);
    }
    match lists.iter().find(|list| list.name == text) {
        Some(list) => Ok(Some(list.from.clone())),
        None => AllowedFrom::parse(text).map(Some),
    }
}

impl AllowedFrom {
    /// Reads patterns as a person types them: separated by commas, blanks or both, each an
    /// address (`10.2.3.4`), a network (`10.1.0.0/16`), a host pattern (`*.example.org`), or
    /// any of these after `!` to keep it out.
    pub fn parse(text: &str) -> Result<Self, InvalidFrom> {
        Self::read(text, true)
    }

    /// Reads `text`'s patterns, host names lowered when `lower` (a person's typing), else
    /// refused in capitals (sshd matches names in lower case, so `*.EXAMPLE.org` never
    /// matches). Stops at the first pattern past [`MAX_LEN`]: a huge list costs no more.
    fn read(text: &str, lower: bool) -> Result<Self, InvalidFrom> {
        let mut list = Self {
            allow: Vec::new(),
            deny: Vec::new(),
        };
        let mut len = 0;
        let words = text.split(|c: char| c == ',' || c.is_whitespace());
        for word in words.filter(|w| !w.is_empty()) {
            if !lower && word.contains(|c: char| c.is_ascii_uppercase()) {
                return Err(InvalidFrom(format!(
                    "{word:?} has capitals, which sshd never matches (it compares host names in lower case)"
                )));
            }
            let (negated, pattern) = match word.strip_prefix('!') {
                Some(rest) => (true, Pattern::parse(rest)?),
                None => (false, Pattern::parse(word)?),
            };
            let side = if negated {
                &mut list.deny
            } else {
                &mut list.allow
            };
            if !side.contains(&pattern) {
                len += word.len() + 1;
                if len > MAX_LEN + 1 {
                    return Err(InvalidFrom(format!(
                        "the pattern list is longer than the {MAX_LEN} characters keyhatch writes"
                    )));
                }
                side.push(pattern);
            }
        }
        list.checked()
    }

    /// The `from=` of an options field as sshd reads it: `None` when there is none, an error
    /// when there are two (sshd skips such a line) or its patterns are not ones keyhatch takes.
    pub fn of_options(options: &[u8]) -> Option<Result<Self, InvalidFrom>> {
        let mut found =
            split_options(options).filter(|(name, _)| name.eq_ignore_ascii_case(b"from"));
        let first = found.next()?;
        if found.next().is_some() {
            return Some(Err(InvalidFrom(
                "the line has two from= options, so sshd does not read it".into(),
            )));
        }
        let value = first.1.map(unquote).unwrap_or_default();
        Some(match std::str::from_utf8(value) {
            // sshd splits a line's list at commas only: a pattern with a blank beside it is
            // matched with the blank, so never, and keyhatch would drop the blank and widen it.
            Ok(text) if text.contains(char::is_whitespace) => Err(InvalidFrom(format!(
                "its from= pattern list {text:?} has blanks in it, beside which sshd never matches a pattern"
            ))),
            Ok(text) if !text.contains(['\\', '"']) => Self::read(text, false),
            _ => Err(InvalidFrom(format!(
                "its from= pattern list {:?} is not one keyhatch can read",
                String::from_utf8_lossy(value)
            ))),
        })
    }

    /// The option sshd reads: `from="…"`.
    pub fn option(&self) -> String {
        format!("from=\"{self}\"")
    }

    /// Whether a pattern names hosts rather than addresses: sshd matches those only when it
    /// looks names up (`UseDNS yes`, off by default).
    pub fn names_hosts(&self) -> bool {
        self.allow.iter().chain(&self.deny).any(Pattern::names_host)
    }

    /// The list that lets a key in only where both `self` and `other` do: each of `self`'s
    /// patterns that lies within one of `other`'s (or `other`'s, where it lies within one of
    /// `self`'s), and the exceptions of both. Refused with a sentence, saying what `other` is
    /// (`other_is`), where two patterns overlap in a way no one pattern can say, or nothing
    /// would be left.
    pub fn within(&self, other: &Self, other_is: &str) -> Result<Self, InvalidFrom> {
        let mut allow = Vec::new();
        for mine in &self.allow {
            for theirs in &other.allow {
                let kept = match mine.relation(theirs) {
                    Relation::Within => mine,
                    Relation::Contains => theirs,
                    Relation::Apart => continue,
                    Relation::Unknown => {
                        return Err(InvalidFrom(format!(
                            "{mine} cannot be combined with {theirs} ({other_is}): give addresses within it"
                        )));
                    }
                };
                if !allow.contains(kept) {
                    allow.push(kept.clone());
                }
            }
        }
        if allow.is_empty() {
            return Err(InvalidFrom(format!(
                "none of {} lies within {} ({other_is})",
                Listed(&self.allow),
                Listed(&other.allow)
            )));
        }
        let mut deny = self.deny.clone();
        deny.extend(
            other
                .deny
                .iter()
                .filter(|p| !self.deny.contains(p))
                .cloned(),
        );
        Self { allow, deny }.checked()
    }

    /// Refuses a list that lets no address in, or is longer than keyhatch writes.
    fn checked(self) -> Result<Self, InvalidFrom> {
        if self.allow.is_empty() {
            return Err(InvalidFrom(
                "give at least one address, network or host pattern to allow (a pattern after ! only keeps one out)".into(),
            ));
        }
        let kept_out = |p: &Pattern| self.deny.iter().any(|d| p.relation(d) == Relation::Within);
        if self.allow.iter().all(kept_out) {
            return Err(InvalidFrom(format!(
                "{self} keeps out every address it allows: sshd would refuse the key from everywhere"
            )));
        }
        let len = self.to_string().len();
        if len > MAX_LEN {
            return Err(InvalidFrom(format!(
                "the pattern list is {len} characters long; keyhatch writes at most {MAX_LEN}"
            )));
        }
        Ok(self)
    }
}

/// The patterns as sshd's list holds them: comma-separated, allowed first, then `!` exceptions.
impl fmt::Display for AllowedFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed = self.allow.iter().map(|p| (p, ""));
        let denied = self.deny.iter().map(|p| (p, "!"));
        for (i, (pattern, bang)) in allowed.chain(denied).enumerate() {
            let comma = if i == 0 { "" } else { "," };
            write!(f, "{comma}{bang}{pattern}")?;
        }
        Ok(())
    }
}

mod pattern;
#[cfg(test)]
mod tests;
