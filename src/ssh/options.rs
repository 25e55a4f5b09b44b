//! An `authorized_keys` options field, read as sshd reads it: options split at commas outside
//! `"…"`, each `name` or `name="value"`.

/// The options of an options field, as `(name, value)`: split at commas outside `"…"`, the
/// value being what follows `=` (still quoted).
pub(super) fn split_options(field: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    raw_options(field).map(|option| match option.iter().position(|&b| b == b'=') {
        Some(eq) => (&option[..eq], Some(&option[eq + 1..])),
        None => (option, None),
    })
}

/// The options of an options field as written (`name` or `name="value"`), split at commas
/// outside `"…"`.
pub(super) fn raw_options(field: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = field;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut quoted = false;
        let mut end = rest.len();
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                b'\\' if quoted && rest.get(i + 1) == Some(&b'"') => i += 1,
                b'"' => quoted = !quoted,
                b',' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let option = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(option)
    })
}

/// The options field `field` without the options named any of `names` (in any case), and
/// with `added` after the rest; the other options kept as written, in their order.
pub(super) fn replaced(field: &[u8], names: &[&str], added: &[String]) -> Vec<u8> {
    let named = |option: &[u8]| {
        let name = option.split(|&b| b == b'=').next().unwrap_or_default();
        names
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
    };
    let kept = raw_options(field).filter(|option| !named(option));
    let added = added.iter().map(String::as_bytes);
    let mut out = Vec::with_capacity(field.len() + 64);
    for (i, option) in kept.chain(added).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(option);
    }
    out
}

/// A value without the quotes around it, if it has them.
pub(super) fn unquote(value: &[u8]) -> &[u8] {
    value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value)
}

/// The value of the first option named `name` (in any case), without its quotes.
pub(super) fn value_of<'a>(field: &'a [u8], name: &str) -> Option<&'a [u8]> {
    if field.is_empty() {
        return None;
    }
    split_options(field)
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, value)| unquote(value.unwrap_or_default()))
}
