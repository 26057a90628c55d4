//! `--userns-remap`: which host user's subordinate id ranges remapped containers run in.
//!
//! The value is dockerd's: `default` (the `dockremap` user and group, made with ranges of
//! 65536 ids when missing), `USER`, `USER:GROUP`, `UID` or `UID:GID`. The ranges are read
//! from `/etc/subuid` and `/etc/subgid` (entries by name or by numeric id).

use std::path::{Path, PathBuf};

use berth_runtime::userns::IdMapping;

/// dockerd's name for the user `default` stands for.
pub const DEFAULT_USER: &str = "dockremap";
/// Ids given to `dockremap` when it has no ranges yet.
const DEFAULT_RANGE: u32 = 65536;
/// Where new ranges start when the files are empty (as shadow's useradd does).
const FIRST_SUBID: u32 = 100000;

#[derive(Debug, thiserror::Error)]
pub enum RemapError {
    #[error("Invalid user/group specification in --userns-remap: {0:?}")]
    Spec(String),
    #[error("--userns-remap: no user {0:?} in {1}")]
    NoUser(String, String),
    #[error("--userns-remap: no group {0:?} in {1}")]
    NoGroup(String, String),
    #[error("--userns-remap: user {user:?} has no subordinate ids in {file}; add a line such as {user}:100000:65536")]
    NoRanges { user: String, file: String },
    #[error("--userns-remap: root cannot be remapped onto itself")]
    Root,
    #[error("--userns-remap: {0}")]
    Io(String),
}

/// The files the option is resolved against (the host's `/etc`; a test's own copies).
#[derive(Debug, Clone)]
pub struct IdFiles {
    pub passwd: PathBuf,
    pub group: PathBuf,
    pub subuid: PathBuf,
    pub subgid: PathBuf,
}

impl IdFiles {
    pub fn host() -> IdFiles {
        IdFiles::under(Path::new("/"))
    }

    /// `root/etc/{passwd,group,subuid,subgid}`.
    pub fn under(root: &Path) -> IdFiles {
        let etc = root.join("etc");
        IdFiles {
            passwd: etc.join("passwd"),
            group: etc.join("group"),
            subuid: etc.join("subuid"),
            subgid: etc.join("subgid"),
        }
    }
}

/// The resolved remapping: who, and the mapping containers get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remapping {
    pub user: String,
    pub group: String,
    pub mapping: IdMapping,
}

/// `(name, id)` of the entries of a passwd or group file.
fn entries(path: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.first()?.to_string(), f.get(2)?.parse().ok()?))
        })
        .collect()
}

fn by_name(list: &[(String, u32)], name: &str) -> Option<u32> {
    list.iter().find(|(n, _)| n == name).map(|(_, id)| *id)
}

fn by_id(list: &[(String, u32)], id: u32) -> Option<String> {
    list.iter().find(|(_, i)| *i == id).map(|(n, _)| n.clone())
}

/// The ranges `(start, count)` of a subuid/subgid file that belong to `name` or `id`.
pub fn subordinate_ranges(text: &str, name: &str, id: u32) -> Vec<(u32, u32)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() != 3 || (f[0] != name && f[0].parse::<u32>().ok() != Some(id)) {
                return None;
            }
            Some((f[1].parse().ok()?, f[2].parse().ok()?))
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

/// Splits the option into user and group parts and resolves them to names, as dockerd
/// does: a bare user takes the group of the same name (a bare uid, the gid of that number).
fn user_and_group(spec: &str, files: &IdFiles) -> Result<(String, u32, String), RemapError> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(RemapError::Spec(spec.to_string()));
    }
    let users = entries(&files.passwd);
    let groups = entries(&files.group);
    let passwd = files.passwd.display().to_string();
    let group_file = files.group.display().to_string();
    let (user, uid) = match parts[0].parse::<u32>() {
        Ok(uid) => (
            by_id(&users, uid)
                .ok_or_else(|| RemapError::NoUser(uid.to_string(), passwd.clone()))?,
            uid,
        ),
        Err(_) => {
            let name = if parts[0] == "default" {
                DEFAULT_USER
            } else {
                parts[0]
            };
            let uid = by_name(&users, name)
                .ok_or_else(|| RemapError::NoUser(name.to_string(), passwd.clone()))?;
            (name.to_string(), uid)
        }
    };
    let group_part = parts.get(1).copied();
    let group = match group_part {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => by_id(&groups, gid)
                .ok_or_else(|| RemapError::NoGroup(gid.to_string(), group_file.clone()))?,
            Err(_) => {
                by_name(&groups, g)
                    .ok_or_else(|| RemapError::NoGroup(g.to_string(), group_file.clone()))?;
                g.to_string()
            }
        },
        None if parts[0].parse::<u32>().is_ok() => by_id(&groups, uid)
            .ok_or_else(|| RemapError::NoGroup(uid.to_string(), group_file.clone()))?,
        None => {
            by_name(&groups, &user)
                .ok_or_else(|| RemapError::NoGroup(user.clone(), group_file.clone()))?;
            user.clone()
        }
    };
    Ok((user, uid, group))
}

/// Resolves the option against `files`: the user's ranges in subuid, the group's in subgid.
pub fn resolve(spec: &str, files: &IdFiles) -> Result<Remapping, RemapError> {
    let (user, uid, group) = user_and_group(spec, files)?;
    if uid == 0 {
        return Err(RemapError::Root);
    }
    let gid = by_name(&entries(&files.group), &group).unwrap_or(0);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let uids = subordinate_ranges(&read(&files.subuid), &user, uid);
    if uids.is_empty() {
        return Err(RemapError::NoRanges {
            user: user.clone(),
            file: files.subuid.display().to_string(),
        });
    }
    let gids = subordinate_ranges(&read(&files.subgid), &group, gid);
    if gids.is_empty() {
        return Err(RemapError::NoRanges {
            user: group.clone(),
            file: files.subgid.display().to_string(),
        });
    }
    Ok(Remapping {
        user,
        group,
        mapping: IdMapping::from_host_ranges(&uids, &gids),
    })
}

/// The first id after every range of a subuid/subgid file (at least [`FIRST_SUBID`]).
fn next_free(text: &str) -> u32 {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            let start: u32 = f.get(1)?.parse().ok()?;
            let count: u32 = f.get(2)?.parse().ok()?;
            Some(start.saturating_add(count))
        })
        .fold(FIRST_SUBID, u32::max)
}

/// Appends `name:<next free>:65536` to a subuid/subgid file that has no range for `name`.
fn add_range(path: &Path, name: &str, id: u32) -> Result<(), RemapError> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if !subordinate_ranges(&text, name, id).is_empty() {
        return Ok(());
    }
    let mut out = text.clone();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("{name}:{}:{DEFAULT_RANGE}\n", next_free(&text)));
    // Through a temp file and a rename: a reader never sees the file half-written.
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, out)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| RemapError::Io(format!("write {}: {e}", path.display())))
}

/// `default`: makes the `dockremap` system user and group when missing (with `useradd`,
/// under `root`), then gives them ranges in subuid/subgid when they have none.
pub fn ensure_default_user(root: &Path) -> Result<(), RemapError> {
    let files = IdFiles::under(root);
    if by_name(&entries(&files.passwd), DEFAULT_USER).is_none() {
        let mut cmd = std::process::Command::new("useradd");
        if root != Path::new("/") {
            cmd.arg("--prefix").arg(root);
        }
        let out = cmd
            .args(["--system", "--no-create-home", "--user-group"])
            .args(["--shell", "/bin/false", DEFAULT_USER])
            .output()
            .map_err(|e| RemapError::Io(format!("run useradd {DEFAULT_USER}: {e}")))?;
        if !out.status.success() {
            return Err(RemapError::Io(format!(
                "useradd {DEFAULT_USER}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    let uid = by_name(&entries(&files.passwd), DEFAULT_USER).unwrap_or(0);
    let gid = by_name(&entries(&files.group), DEFAULT_USER).unwrap_or(0);
    add_range(&files.subuid, DEFAULT_USER, uid)?;
    add_range(&files.subgid, DEFAULT_USER, gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc(subuid: &str, subgid: &str) -> (tempfile::TempDir, IdFiles) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let files = IdFiles::under(dir.path());
        std::fs::write(
            &files.passwd,
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(&files.group, "root:x:0:\nalice:x:1000:\nstaff:x:50:\n").unwrap();
        std::fs::write(&files.subuid, subuid).unwrap();
        std::fs::write(&files.subgid, subgid).unwrap();
        (dir, files)
    }

    #[test]
    fn subordinate_ranges_by_name_or_id() {
        let text = "# comment\nalice:100000:65536\nbob:165536:65536\n1000:300000:10\n";
        assert_eq!(
            subordinate_ranges(text, "alice", 1000),
            [(100000, 65536), (300000, 10)]
        );
        assert!(subordinate_ranges(text, "carol", 7).is_empty());
        assert_eq!(next_free(text), 300010);
        assert_eq!(next_free(""), FIRST_SUBID);
    }

    #[test]
    fn option_forms() {
        let (_d, f) = etc(
            "alice:100000:65536\n",
            "alice:200000:65536\nstaff:400000:1000\n",
        );
        let r = resolve("alice", &f).unwrap();
        assert_eq!((r.user.as_str(), r.group.as_str()), ("alice", "alice"));
        assert_eq!(r.mapping.root(), (100000, 200000));
        assert_eq!(r.mapping.uids[0].size, 65536);
        assert_eq!(resolve("1000", &f).unwrap(), r);
        assert_eq!(resolve("alice:alice", &f).unwrap(), r);
        let staff = resolve("1000:50", &f).unwrap();
        assert_eq!(staff.group, "staff");
        assert_eq!(staff.mapping.root(), (100000, 400000));
        assert_eq!(resolve("alice:staff", &f).unwrap(), staff);
        assert!(matches!(resolve("a:b:c", &f), Err(RemapError::Spec(_))));
        assert!(matches!(resolve("ghost", &f), Err(RemapError::NoUser(..))));
        assert!(matches!(
            resolve("alice:nogroup", &f),
            Err(RemapError::NoGroup(..))
        ));
        assert!(matches!(resolve("root", &f), Err(RemapError::Root)));
    }

    #[test]
    fn a_user_without_ranges_is_named() {
        let (_d, f) = etc("bob:100000:65536\n", "alice:200000:65536\n");
        let e = resolve("alice", &f).unwrap_err();
        assert!(e.to_string().contains("\"alice\""), "{e}");
        assert!(e.to_string().contains("subuid"), "{e}");
    }

    #[test]
    fn default_makes_dockremap_and_its_ranges() {
        let (d, f) = etc("alice:100000:65536\n", "");
        // useradd --prefix needs the shadow files beside passwd and group.
        for name in ["shadow", "gshadow"] {
            std::fs::write(d.path().join("etc").join(name), "").unwrap();
        }
        ensure_default_user(d.path()).unwrap();
        let r = resolve("default", &f).unwrap();
        assert_eq!(r.user, DEFAULT_USER);
        assert_eq!(r.group, DEFAULT_USER);
        assert_eq!(r.mapping.root(), (165536, 100000));
        // A second call adds nothing.
        ensure_default_user(d.path()).unwrap();
        let subuid = std::fs::read_to_string(&f.subuid).unwrap();
        assert_eq!(subuid.matches(DEFAULT_USER).count(), 1);
    }
}
