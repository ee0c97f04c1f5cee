//! A store shared by several Unix users on one host: a setgid, group-writable directory
//! (`gander store init DIR --group sre`). Every file gander writes there is group-readable
//! and -writable whatever the writer's umask; a world-writable directory, or a chain
//! owned by someone outside the group, is refused.

use std::ffi::{CStr, CString};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The gid of a group by name.
pub fn group_gid(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 1 << 16];
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: buffers owned here; the result points into them.
    let rc =
        unsafe { libc::getgrnam_r(c.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut out) };
    (rc == 0 && !out.is_null()).then_some(grp.gr_gid)
}

/// A group's name by gid.
pub fn group_name(gid: u32) -> String {
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 1 << 16];
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as above.
    let rc = unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() {
        unsafe { CStr::from_ptr(grp.gr_name) }
            .to_string_lossy()
            .into_owned()
    } else {
        gid.to_string()
    }
}

/// A user's name and primary gid by uid.
fn user(uid: u32) -> Option<(CString, u32)> {
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 1 << 16];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: as above.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() {
        return None;
    }
    Some((unsafe { CStr::from_ptr(pw.pw_name) }.to_owned(), pw.pw_gid))
}

pub fn user_name(uid: u32) -> String {
    user(uid).map_or(uid.to_string(), |(n, _)| n.to_string_lossy().into_owned())
}

/// Is the user with this uid in the group (primary or supplementary)?
pub fn uid_in_group(uid: u32, gid: u32) -> bool {
    let Some((name, primary)) = user(uid) else {
        return false;
    };
    if primary == gid {
        return true;
    }
    let mut n: libc::c_int = 256;
    let mut groups = vec![0 as libc::gid_t; n as usize];
    // SAFETY: groups has room for n entries; n is updated with the count.
    let rc = unsafe { libc::getgrouplist(name.as_ptr(), primary, groups.as_mut_ptr(), &mut n) };
    rc >= 0 && groups[..n.max(0) as usize].contains(&gid)
}

/// Is this process in the group?
fn me_in_group(gid: u32) -> bool {
    // SAFETY: plain getters.
    if unsafe { libc::getegid() } == gid || unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut gs = vec![0 as libc::gid_t; n.max(0) as usize];
    let n = unsafe { libc::getgroups(n, gs.as_mut_ptr()) };
    n >= 0 && gs[..n as usize].contains(&gid)
}

/// `gander store init DIR --group G`: the directory (and `audit/`) owned by the group,
/// setgid (so what is made inside belongs to the group) and group-writable, with the
/// lock file ready for every member.
pub fn init(dir: &Path, group: &str) -> Result<String, String> {
    let gid = group_gid(group).ok_or_else(|| format!("no such group `{group}`"))?;
    if !me_in_group(gid) {
        return Err(format!(
            "you are not in group `{group}`; a member of the group (or root) sets up its store"
        ));
    }
    let audit = dir.join("audit");
    std::fs::create_dir_all(&audit).map_err(|e| format!("{}: {e}", audit.display()))?;
    unsafe_parents(dir)?;
    for d in [dir, audit.as_path()] {
        let c = CString::new(d.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: chown of a path we just made; -1 keeps the owner.
        if unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) } != 0 {
            return Err(format!(
                "{}: chgrp {group}: {}",
                d.display(),
                std::io::Error::last_os_error()
            ));
        }
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o2770))
            .map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let lock = audit.join("chain.lock");
    if !lock.exists() {
        std::fs::File::create(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
        let c = CString::new(lock.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: as above.
        unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) };
    }
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("{}: {e}", lock.display()))?;
    Ok(format!(
        "{}: a shared store for group {group} (setgid, rwxrws---); point the org at it with `store: {{directory: {}}}`",
        dir.display(),
        dir.display()
    ))
}

/// Before using a shared store: refuse what another user could have tampered with,
/// then make everything this process writes group-readable and -writable.
pub fn check(dir: &Path) -> Result<(), String> {
    let md = std::fs::metadata(dir).map_err(|e| {
        format!(
            "{}: {e}\n  help: create it with `gander store init {} --group GROUP`",
            dir.display(),
            dir.display()
        )
    })?;
    let mode = md.mode();
    if mode & 0o002 != 0 {
        return Err(format!(
            "{} is world-writable (mode {:o}): anyone on this host could replace the chain; refused\n  help: `chmod o-w {}` (or `gander store init` it again)",
            dir.display(),
            mode & 0o7777,
            dir.display()
        ));
    }
    unsafe_parents(dir)?;
    let gid = md.gid();
    let group = group_name(gid);
    for sub in ["audit", "audit/chain.jsonl"] {
        let p = dir.join(sub);
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.file_type().is_symlink() {
            return Err(format!(
                "{} is a symbolic link; the store's files must be real files; refused",
                p.display()
            ));
        }
        if m.mode() & 0o002 != 0 {
            return Err(format!("{} is world-writable; refused", p.display()));
        }
        if !uid_in_group(m.uid(), gid) && m.uid() != md.uid() {
            return Err(format!(
                "{} is owned by {}, who is not in the store's group {group}; refused\n  help: someone outside the team wrote it: check it, then `chown` it to a member",
                p.display(),
                user_name(m.uid())
            ));
        }
    }
    // SAFETY: umask only changes this process's default file modes.
    unsafe { libc::umask(0o007) };
    Ok(())
}

/// Is this directory a shared store (setgid and group-writable)?
pub fn is_shared(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| m.mode() & 0o2020 == 0o2020)
}

/// A directory above the store that anyone may write to without the sticky bit lets
/// anyone rename the store away and put their own in its place.
fn unsafe_parents(dir: &Path) -> Result<(), String> {
    let abs = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for p in abs.ancestors().skip(1) {
        if let Ok(m) = std::fs::metadata(p)
            && m.mode() & 0o002 != 0
            && m.mode() & 0o1000 == 0
        {
            return Err(format!(
                "{} (above the store) is world-writable without the sticky bit: anyone could swap the store; refused\n  help: put the store under a directory only root or the team can write (e.g. /srv)",
                p.display()
            ));
        }
    }
    Ok(())
}
