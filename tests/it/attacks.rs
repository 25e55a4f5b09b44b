//! The attack catalog: one module per attacker named in SECURITY.md, each test named by the
//! attack it mounts on the real binary (and seen failing before its fix).

/// Another account on the same node, against a person's local-mode keyhatch.
mod another_account;
/// A person's own files and processes, against their own keyhatch or their site-mode helper.
mod own_files;
/// The proxy's network neighbours and anyone who can reach keyhatch's listener.
mod proxy_neighbours;
/// A signed-in person in site mode, after another person's keys or everyone's service.
mod signed_in_person;
