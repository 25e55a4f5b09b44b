//! A key's fingerprint, as `ssh-keygen -l` prints it.

/// A key's fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
pub fn fingerprint(key: &ssh_key::PublicKey) -> String {
    use base64::Engine;
    let digest = key.fingerprint(ssh_key::HashAlg::Sha256);
    // Written here rather than by the digest's `Display`, which grows the string piece by
    // piece through `fmt`: that was 8% of the time to list 10,000 lines over HTTP.
    let mut base64 = [0; 43];
    base64::prelude::BASE64_STANDARD_NO_PAD
        .encode_slice(digest.as_bytes(), &mut base64)
        .expect("a SHA-256 digest is 43 base64 characters");
    let mut text = String::with_capacity(7 + base64.len());
    text.push_str("SHA256:");
    text.push_str(std::str::from_utf8(&base64).expect("base64 is ASCII"));
    text
}
