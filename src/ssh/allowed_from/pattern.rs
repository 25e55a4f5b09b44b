//! One pattern of a `from=` list, as sshd reads it, and how two patterns lie.

use std::fmt;
use std::net::IpAddr;

/// Why a pattern list cannot be written, as one sentence for the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFrom(pub(super) String);

/// One pattern of a list, without its `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pattern {
    /// An address and its prefix length (the full length for one address).
    Net(IpAddr, u8),
    /// A wildcard pattern, lower case: an address's text or a host name.
    Glob(String),
}

/// How one pattern's addresses and names lie with respect to another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
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
    pub(super) fn parse(word: &str) -> Result<Self, InvalidFrom> {
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
            if is_mapped(address) {
                return refuse(MAPPED);
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
            if is_mapped(address) {
                return refuse(MAPPED);
            }
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
        // sshd reads a pattern as an address wherever getaddrinfo does, which also takes short
        // forms and parts in hexadecimal or octal (127.0.0.0x2 is 127.0.0.2): matched as text
        // here, they would not be what sshd lets in.
        if !wildcard && reads_as_ipv4(word) {
            return refuse(
                "is not an address keyhatch can read (sshd would read a short, hexadecimal or octal form): write its four decimal parts like 127.0.0.2, a network such as 10.1.0.0/16, or a pattern such as 10.1.*",
            );
        }
        if !wildcard && word.contains(':') {
            return refuse("is not an IPv6 address keyhatch can read, like 2001:db8::7");
        }
        Ok(Self::Glob(word.to_ascii_lowercase()))
    }

    /// Whether sshd can match this pattern only against a host name.
    pub(super) fn names_host(&self) -> bool {
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
    pub(super) fn relation(&self, other: &Self) -> Relation {
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
pub(super) struct Listed<'a>(pub(super) &'a [Pattern]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pattern) in self.0.iter().enumerate() {
            write!(f, "{}{pattern}", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

/// Why a mapped IPv6 address is refused.
const MAPPED: &str = "is an IPv4 address written as IPv6, which never matches (sshd matches IPv4 clients as IPv4): write the IPv4 address";

/// Whether `address` lies in `::ffff:0:0/96`.
fn is_mapped(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
}

/// Whether `inet_aton` (and so sshd's getaddrinfo) reads `word` as an IPv4 address: one to
/// four dot-separated numbers, each decimal, octal (leading 0) or hexadecimal (`0x`).
fn reads_as_ipv4(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    let number = |part: &str| match part.strip_prefix("0x").or(part.strip_prefix("0X")) {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()),
    };
    (1..=4).contains(&parts.len()) && parts.iter().all(|part| number(part))
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
pub(super) fn wildmatch(pattern: &str, text: &str) -> bool {
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
