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
use std::net::IpAddr;

use super::options::{split_options, unquote};

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

/// One pattern of a list, without its `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// An address and its prefix length (the full length for one address).
    Net(IpAddr, u8),
    /// A wildcard pattern, lower case: an address's text or a host name.
    Glob(String),
}

/// Why a pattern list cannot be written, as one sentence for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFrom(String);

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

/// How one pattern's addresses and names lie with respect to another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// Everything the first matches, the second matches too.
    Within,
    /// Everything the second matches, the first matches too (and they differ).
    Contains,
    /// Nothing matches both.
    Apart,
    /// They overlap in a way neither contains.
    Unknown,
}

impl Pattern {
    /// One pattern, without its `!`.
    fn parse(word: &str) -> Result<Self, InvalidFrom> {
        let refuse = |why: &str| Err(InvalidFrom(format!("{word:?} {why}")));
        if word.is_empty() {
            return refuse("is not a pattern: ! must be followed by one");
        }
        if word.len() > 255 {
            return refuse("is longer than a host name can be");
        }
        if let Some((address, prefix)) = word.split_once('/') {
            let (Ok(address), Ok(prefix)) = (address.parse::<IpAddr>(), prefix.parse::<u8>())
            else {
                return refuse("is not an address and prefix length like 10.1.0.0/16");
            };
            let bits = if address.is_ipv4() { 32 } else { 128 };
            if prefix > bits {
                return refuse(&format!("has a prefix longer than {bits} bits"));
            }
            let network = Self::Net(network_of(address, prefix), prefix);
            if network != Self::Net(address, prefix) {
                return refuse(&format!(
                    "has address bits set past its prefix, which makes sshd refuse the key from everywhere; the network is {network}"
                ));
            }
            return Ok(network);
        }
        if let Ok(address) = word.parse::<IpAddr>() {
            let bits = if address.is_ipv4() { 32 } else { 128 };
            return Ok(Self::Net(address, bits));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._*?:".contains(c);
        if let Some(bad) = word.chars().find(|&c| !allowed(c)) {
            return refuse(&format!(
                "holds {bad:?}: a pattern is an address, a network, or a host name with * and ?"
            ));
        }
        let wildcard = word.contains(['*', '?']);
        if !wildcard && word.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return refuse(
                "is not a whole IPv4 address: write all four parts, a network such as 10.1.0.0/16, or a pattern such as 10.1.*",
            );
        }
        Ok(Self::Glob(word.to_ascii_lowercase()))
    }

    /// Whether sshd can match this pattern only against a host name.
    fn names_host(&self) -> bool {
        match self {
            Self::Net(..) => false,
            Self::Glob(glob) => {
                !glob
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b".*?".contains(&b))
                    && !glob.contains(':')
            }
        }
    }

    /// How `self` lies with respect to `other`, as far as it can be told for certain.
    fn relation(&self, other: &Self) -> Relation {
        use Relation::{Apart, Contains, Unknown, Within};
        if self == other || other.is_anything() {
            return Within;
        }
        if self.is_anything() {
            return Contains;
        }
        match (self, other) {
            (Self::Net(a, a_len), Self::Net(b, b_len)) => {
                if a.is_ipv4() != b.is_ipv4() {
                    Apart
                } else if a_len >= b_len && network_of(*a, *b_len) == *b {
                    Within
                } else if b_len >= a_len && network_of(*b, *a_len) == *a {
                    Contains
                } else {
                    Apart
                }
            }
            (Self::Net(..), Self::Glob(_)) => other.relation(self).reversed(),
            // One address is matched as its text; a host-name pattern is dropped beside a network
            // (left out, the list lets in less, never more).
            (Self::Glob(glob), Self::Net(..)) => match other.single_text() {
                Some(text) if wildmatch(glob, &text) => Contains,
                Some(_) => Apart,
                None if self.names_host() => Apart,
                None => Unknown,
            },
            (Self::Glob(a), Self::Glob(b)) => match (is_literal(a), is_literal(b)) {
                (true, _) if wildmatch(b, a) => Within,
                (_, true) if wildmatch(a, b) => Contains,
                (false, false) => Unknown,
                _ => Apart,
            },
        }
    }

    /// `*`: any client at all.
    fn is_anything(&self) -> bool {
        matches!(self, Self::Glob(g) if g.bytes().all(|b| b == b'*'))
    }

    /// The text sshd matches a single address's wildcard patterns against.
    fn single_text(&self) -> Option<String> {
        match self {
            Self::Net(address, len) if *len == if address.is_ipv4() { 32 } else { 128 } => {
                Some(address.to_string())
            }
            _ => None,
        }
    }
}

impl Relation {
    fn reversed(self) -> Self {
        match self {
            Self::Within => Self::Contains,
            Self::Contains => Self::Within,
            other => other,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(address, _) if self.single_text().is_some() => write!(f, "{address}"),
            Self::Net(address, len) => write!(f, "{address}/{len}"),
            Self::Glob(glob) => f.write_str(glob),
        }
    }
}

/// Patterns joined for a sentence.
struct Listed<'a>(&'a [Pattern]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pattern) in self.0.iter().enumerate() {
            write!(f, "{}{pattern}", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

/// `address` with the bits past `prefix` cleared.
fn network_of(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
    }
}

fn is_literal(glob: &str) -> bool {
    !glob.contains(['*', '?'])
}

/// sshd's `match_pattern`: `*` any run of characters, `?` any one, everything else itself.
fn wildmatch(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests;
