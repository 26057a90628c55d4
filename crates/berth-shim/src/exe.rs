//! Finding the executable inside a root filesystem before anything is created, so that a
//! missing or non-executable command gets Docker's message and exit code (127 / 126).

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Resolves `path` (absolute, inside the container) to a host path under `root`, following
/// symlinks as the container would see them, never leaving `root`.
pub fn resolve_in_root(root: &Path, path: &str) -> PathBuf {
    let mut resolved = PathBuf::from("/");
    let mut pending: Vec<String> = components(path);
    pending.reverse();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let host = root.join(candidate.strip_prefix("/").unwrap_or(&candidate));
        match std::fs::read_link(&host) {
            Ok(target) if hops < 40 => {
                hops += 1;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved = PathBuf::from("/");
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => resolved = candidate,
        }
    }
    root.join(resolved.strip_prefix("/").unwrap_or(&resolved))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

/// The host path of container path `path`: through the mount that covers it (the deepest
/// one), else inside `root`. `None` for a path on a tmpfs (empty at start).
fn host_path(root: &Path, mounts: &[(String, String)], path: &str) -> Option<PathBuf> {
    let covering = mounts
        .iter()
        .filter(|(dest, _)| {
            let dest = dest.trim_end_matches('/');
            path == dest || path.starts_with(&format!("{dest}/"))
        })
        .max_by_key(|(dest, _)| dest.len());
    match covering {
        Some((_, source)) if source.is_empty() => None,
        Some((dest, source)) => {
            let rest = path[dest.trim_end_matches('/').len()..].trim_start_matches('/');
            // join("") would add a trailing slash, which a file does not take.
            if rest.is_empty() {
                Some(PathBuf::from(source))
            } else {
                Some(Path::new(source).join(rest))
            }
        }
        None => Some(resolve_in_root(root, path)),
    }
}

/// Checks that `args[0]` can be executed in `root` (with `mounts` over it) with `env`'s PATH;
/// on failure returns Docker's message and exit code.
pub fn check(
    root: &Path,
    mounts: &[(String, String)],
    args: &[String],
    env: &[String],
    cwd: &str,
) -> Result<(), (String, i32)> {
    let Some(cmd) = args.first() else {
        return Err(("no command specified".to_string(), 125));
    };
    let candidates: Vec<String> = if cmd.contains('/') {
        if cmd.starts_with('/') {
            vec![cmd.clone()]
        } else {
            vec![format!("{}/{}", cwd.trim_end_matches('/'), cmd)]
        }
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{}", d.trim_end_matches('/'), cmd))
            .collect()
    };
    let mut denied = false;
    for candidate in &candidates {
        let Some(host) = host_path(root, mounts, candidate) else {
            continue;
        };
        if let Ok(meta) = std::fs::metadata(&host) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(());
            }
            denied = true;
        }
    }
    if denied {
        return Err((format!("exec: \"{cmd}\": permission denied"), 126));
    }
    if cmd.contains('/') {
        Err((
            format!("exec: \"{cmd}\": stat {cmd}: no such file or directory"),
            127,
        ))
    } else {
        Err((
            format!("exec: \"{cmd}\": executable file not found in $PATH"),
            127,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn finds_commands_and_reports_docker_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/busybox"), b"").unwrap();
        std::fs::set_permissions(root.join("bin/busybox"), PermissionsExt::from_mode(0o755))
            .unwrap();
        symlink("busybox", root.join("bin/sh")).unwrap();
        // A symlink pointing out of the root resolves inside it.
        symlink("/../../bin/busybox", root.join("bin/up")).unwrap();
        std::fs::write(root.join("bin/data"), b"").unwrap();
        let env = vec!["PATH=/bin".to_string()];
        let args = |s: &str| vec![s.to_string()];
        let none: Vec<(String, String)> = Vec::new();
        assert!(check(root, &none, &args("sh"), &env, "/").is_ok());
        assert!(check(root, &none, &args("/bin/up"), &env, "/").is_ok());
        assert_eq!(
            check(root, &none, &args("nope"), &env, "/").unwrap_err().1,
            127
        );
        assert_eq!(
            check(root, &none, &args("/nope"), &env, "/").unwrap_err().1,
            127
        );
        // A bind mount brings an executable in; a tmpfs hides one.
        let mounts = vec![
            (
                "/opt/tool".to_string(),
                root.join("bin/busybox").display().to_string(),
            ),
            ("/bin".to_string(), String::new()),
        ];
        assert!(check(root, &mounts, &args("/opt/tool"), &env, "/").is_ok());
        assert_eq!(
            check(root, &mounts, &args("sh"), &env, "/").unwrap_err().1,
            127
        );
        let (msg, code) = check(root, &none, &args("data"), &env, "/").unwrap_err();
        assert_eq!(code, 126);
        assert!(msg.contains("permission denied"));
    }
}
