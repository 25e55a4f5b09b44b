//! The account site mode serves for a login name, as the user database has it, or why not.

use std::ffi::CString;

use super::refusal::Refusal;
use crate::api::helper::Identity;
use crate::model::{Account, Logout};
use crate::server::settings::SiteSettings;

/// The account `user` as site mode serves it (whom a helper becomes, and how the page names
/// them), or why it is not served: no such account, one spelled otherwise, root, a system or
/// the overflow account, above `max-uid`, or (when `check_group`) outside `allowed-group`.
pub fn served(
    settings: &SiteSettings,
    user: &str,
    check_group: bool,
) -> Result<(Identity, Account), Refusal> {
    let declared = &settings.declared;
    let user = user.to_owned();
    let entry = nix::unistd::User::from_name(&user)
        .ok()
        .flatten()
        .ok_or_else(|| Refusal::Unknown(user.clone()))?;
    // The account's own spelling only: a directory that matches names regardless of case or
    // Unicode form (LDAP's caseIgnoreMatch, SSSD with case_sensitive = false) would give
    // alice's entry for "ALICE" or "ａｌｉｃｅ", which a provider may issue to someone else.
    if entry.name != user {
        return Err(Refusal::Spelled(user, entry.name));
    }
    let uid = entry.uid.as_raw();
    if uid == 0 {
        return Err(Refusal::Root);
    }
    if uid < declared.min_uid {
        return Err(Refusal::SystemAccount(user, uid));
    }
    if uid == settings.overflow_uid {
        return Err(Refusal::Overflow(user, uid));
    }
    if let Some(max) = declared.max_uid
        && uid > max
    {
        return Err(Refusal::AboveMaxUid(user, uid, max));
    }
    let groups: Vec<u32> = CString::new(user.clone())
        .ok()
        .and_then(|c| nix::unistd::getgrouplist(&c, entry.gid).ok())
        .unwrap_or_else(|| vec![entry.gid])
        .into_iter()
        .map(nix::unistd::Gid::as_raw)
        .collect();
    if check_group
        && let Some((group, gid)) = &settings.allowed_group
        && !groups.contains(gid)
    {
        return Err(Refusal::OutsideGroup(user, group.clone()));
    }
    let gecos = entry.gecos.to_string_lossy();
    let full_name = gecos.split(',').next().unwrap_or("").trim();
    let account = Account {
        user: user.clone(),
        display_name: if full_name.is_empty() {
            user.clone()
        } else {
            full_name.to_owned()
        },
        logout: (declared.logout_url.clone()).map_or(Logout::Hidden, Logout::Link),
    };
    let identity = Identity {
        user,
        uid,
        gid: entry.gid.as_raw(),
        groups,
        home: entry.dir,
    };
    Ok((identity, account))
}
