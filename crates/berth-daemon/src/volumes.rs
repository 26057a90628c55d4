//! Volumes (the `local` driver: a directory under `data-root/volumes/NAME/_data`) and the
//! translation of `-v`, `--mount`, `--tmpfs` and `--volumes-from` into a container's mounts.

use std::path::{Path, PathBuf};

use berth_api::ApiError;
use serde_json::{json, Map, Value};

use crate::container::MountPoint;
use crate::Daemon;

pub struct Volumes {
    root: PathBuf,
    /// Host uid and gid new volumes' `_data` gets (the remapped root with `--userns-remap`).
    owner: Option<(u32, u32)>,
}

fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Volumes {
    pub fn open(data_root: &Path) -> std::io::Result<Volumes> {
        let root = data_root.join("volumes");
        std::fs::create_dir_all(&root)?;
        // A crash between mkdir and writing the metadata leaves a directory without it.
        for e in std::fs::read_dir(&root)?.flatten() {
            if !e.path().join("meta.json").exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Ok(Volumes { root, owner: None })
    }

    /// New volumes are owned by `owner` (the remapped root), as dockerd makes them.
    pub fn with_owner(mut self, owner: Option<(u32, u32)>) -> Volumes {
        self.owner = owner;
        self
    }

    pub fn data_path(&self, name: &str) -> PathBuf {
        self.root.join(name).join("_data")
    }

    /// Creates a volume (an existing one is returned as is); `name` None makes an anonymous one.
    pub fn create(
        &self,
        name: Option<&str>,
        labels: Map<String, Value>,
        options: Map<String, Value>,
    ) -> Result<(Value, bool), ApiError> {
        let anonymous = name.is_none_or(str::is_empty);
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => hex::encode(rand::random::<[u8; 32]>()),
        };
        if !valid_volume_name(&name) {
            return Err(ApiError::invalid(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if let Ok(v) = self.get(&name) {
            return Ok((v, false));
        }
        let mut labels = labels;
        if anonymous {
            labels.insert("com.docker.volume.anonymous".into(), json!(""));
        }
        let dir = self.root.join(&name);
        let meta = json!({
            "CreatedAt": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            "Driver": "local",
            "Labels": labels,
            "Mountpoint": self.data_path(&name),
            "Name": name,
            "Options": options,
            "Scope": "local"
        });
        let io = |e: std::io::Error| ApiError::system(format!("create volume {name}: {e}"));
        std::fs::create_dir_all(self.data_path(&name)).map_err(io)?;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(self.data_path(&name), Some(uid), Some(gid)).map_err(io)?;
        }
        let tmp = dir.join("meta.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&meta).unwrap_or_default()).map_err(io)?;
        std::fs::rename(&tmp, dir.join("meta.json")).map_err(io)?;
        Ok((meta, true))
    }

    pub fn get(&self, name: &str) -> Result<Value, ApiError> {
        let path = self.root.join(name).join("meta.json");
        if name.is_empty() || name.contains('/') || !path.exists() {
            return Err(ApiError::not_found(format!("get {name}: no such volume")));
        }
        std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| ApiError::system(format!("volume {name}: unreadable metadata")))
    }

    pub fn list(&self) -> Vec<Value> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.flatten() {
                if let Ok(v) = self.get(&e.file_name().to_string_lossy()) {
                    out.push(v);
                }
            }
        }
        out.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
        out
    }

    /// Removes a volume; `users` gives the containers using it.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        users: &dyn Fn(&str) -> bool,
    ) -> Result<(), ApiError> {
        if self.get(name).is_err() {
            if force {
                return Ok(());
            }
            return Err(ApiError::not_found(format!("get {name}: no such volume")));
        }
        if users(name) {
            return Err(ApiError::conflict(format!(
                "remove {name}: volume is in use"
            )));
        }
        let dir = self.root.join(name);
        // Rename first so that a crash never leaves a half-deleted volume with metadata.
        let trash = self.root.join(format!(".{name}.removing"));
        let _ = std::fs::rename(&dir, &trash);
        std::fs::remove_dir_all(&trash)
            .map_err(|e| ApiError::system(format!("remove volume {name}: {e}")))
    }
}

fn copy_into(src: &Path, dst: &Path) {
    if src.is_dir()
        && std::fs::read_dir(dst)
            .map(|mut r| r.next().is_none())
            .unwrap_or(false)
    {
        let _ = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", src.display()))
            .arg(dst)
            .status();
    }
}

fn invalid_spec(spec: &str) -> ApiError {
    ApiError::invalid(format!("invalid volume specification: '{spec}'"))
}

/// Parses `-v`, `--mount`, `--tmpfs`, `--volumes-from` and image volumes into mount points,
/// creating named and anonymous volumes (filled from the image) and missing bind sources.
pub fn parse_mounts(
    d: &Daemon,
    config: &Map<String, Value>,
    hc: &Map<String, Value>,
    rootfs: &Path,
) -> Result<Vec<MountPoint>, ApiError> {
    let mut out: Vec<MountPoint> = Vec::new();
    let mut new_volumes: Vec<String> = Vec::new();
    let push = |out: &mut Vec<MountPoint>, m: MountPoint| -> Result<(), ApiError> {
        if out.iter().any(|o| o.destination == m.destination) {
            return Err(ApiError::invalid(format!(
                "Duplicate mount point: {}",
                m.destination
            )));
        }
        out.push(m);
        Ok(())
    };
    let strs = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let volume_mount = |name: &str, dest: &str, rw: bool, mode: &str, anonymous: bool| MountPoint {
        kind: "volume".into(),
        name: name.into(),
        source: d.volumes.data_path(name).to_string_lossy().into_owned(),
        destination: dest.into(),
        driver: "local".into(),
        mode: mode.into(),
        rw,
        propagation: String::new(),
        anonymous,
    };
    let result = (|| -> Result<(), ApiError> {
        for spec in strs(hc.get("Binds")) {
            let parts: Vec<&str> = spec.split(':').collect();
            let (src, dst, mode) = match parts.as_slice() {
                [s, t] => (*s, *t, ""),
                [s, t, m] => (*s, *t, *m),
                _ => return Err(invalid_spec(&spec)),
            };
            if src.is_empty() || !dst.starts_with('/') {
                return Err(invalid_spec(&spec));
            }
            let rw = !mode.split(',').any(|m| m == "ro");
            if src.starts_with('/') {
                if !Path::new(src).exists() {
                    std::fs::create_dir_all(src)
                        .map_err(|e| ApiError::system(format!("create mountpoint {src}: {e}")))?;
                }
                push(
                    &mut out,
                    MountPoint {
                        kind: "bind".into(),
                        source: src.into(),
                        destination: dst.into(),
                        mode: mode.into(),
                        rw,
                        propagation: "rprivate".into(),
                        ..Default::default()
                    },
                )?;
            } else {
                let (_, created) = d.volumes.create(Some(src), Map::new(), Map::new())?;
                if created {
                    new_volumes.push(src.to_string());
                }
                push(
                    &mut out,
                    volume_mount(
                        src,
                        dst,
                        rw,
                        if mode.is_empty() { "z" } else { mode },
                        false,
                    ),
                )?;
            }
        }
        for m in hc
            .get("Mounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = m["Type"].as_str().unwrap_or("");
            let target = m["Target"].as_str().unwrap_or("");
            let source = m["Source"].as_str().unwrap_or("");
            let ro = m["ReadOnly"].as_bool().unwrap_or(false);
            if !target.starts_with('/') {
                return Err(ApiError::invalid(format!(
                    "invalid mount config for type \"{kind}\": invalid mount path: '{target}' mount path must be absolute"
                )));
            }
            match kind {
                "bind" => {
                    if !Path::new(source).exists() {
                        return Err(ApiError::invalid(format!(
                            "invalid mount config for type \"bind\": bind source path does not exist: {source}"
                        )));
                    }
                    push(
                        &mut out,
                        MountPoint {
                            kind: "bind".into(),
                            source: source.into(),
                            destination: target.into(),
                            rw: !ro,
                            propagation: "rprivate".into(),
                            ..Default::default()
                        },
                    )?;
                }
                "volume" => {
                    let labels = m["VolumeOptions"]["Labels"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    let (v, created) = d.volumes.create(
                        Some(source).filter(|s| !s.is_empty()),
                        labels,
                        Map::new(),
                    )?;
                    let name = v["Name"].as_str().unwrap_or("").to_string();
                    if created {
                        new_volumes.push(name.clone());
                    }
                    push(
                        &mut out,
                        volume_mount(&name, target, !ro, "", source.is_empty()),
                    )?;
                }
                "tmpfs" => {
                    let mut opts = Vec::new();
                    if let Some(size) = m["TmpfsOptions"]["SizeBytes"].as_i64() {
                        opts.push(format!("size={size}"));
                    }
                    if let Some(mode) = m["TmpfsOptions"]["Mode"].as_u64() {
                        opts.push(format!("mode={mode:o}"));
                    }
                    push(
                        &mut out,
                        MountPoint {
                            kind: "tmpfs".into(),
                            destination: target.into(),
                            mode: opts.join(","),
                            rw: !ro,
                            ..Default::default()
                        },
                    )?;
                }
                other => {
                    return Err(ApiError::invalid(format!(
                        "invalid mount config for type \"{other}\": mount type unknown"
                    )))
                }
            }
        }
        for (dest, opts) in hc
            .get("Tmpfs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let opts = opts.as_str().unwrap_or("");
            let rw = !opts.split(',').any(|o| o == "ro");
            let mode: Vec<&str> = opts
                .split(',')
                .filter(|o| !o.is_empty() && *o != "ro" && *o != "rw")
                .collect();
            push(
                &mut out,
                MountPoint {
                    kind: "tmpfs".into(),
                    destination: dest.clone(),
                    mode: mode.join(","),
                    rw,
                    ..Default::default()
                },
            )?;
        }
        for spec in strs(hc.get("VolumesFrom")) {
            let (name, mode) = spec.split_once(':').unwrap_or((&spec, ""));
            let other = d.find_container(name)?;
            for m in other.record().mounts {
                if out.iter().any(|o| o.destination == m.destination) {
                    continue;
                }
                let mut m = m.clone();
                m.anonymous = false;
                if mode == "ro" {
                    m.rw = false;
                }
                out.push(m);
            }
        }
        for dest in config
            .get("Volumes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            if out.iter().any(|o| &o.destination == dest) {
                continue;
            }
            let (v, _) = d.volumes.create(None, Map::new(), Map::new())?;
            let name = v["Name"].as_str().unwrap_or("").to_string();
            new_volumes.push(name.clone());
            out.push(volume_mount(&name, dest, true, "", true));
        }
        Ok(())
    })();
    if let Err(e) = result {
        for name in &new_volumes {
            let _ = d.volumes.remove(name, true, &|_| false);
        }
        return Err(e);
    }
    // New volumes are filled with what the image has at their path, as docker does.
    for m in &out {
        if m.kind == "volume" && new_volumes.contains(&m.name) {
            let src = berth_shim::resolve_in_root(rootfs, &m.destination);
            copy_into(&src, Path::new(&m.source));
        }
    }
    Ok(out)
}

impl Daemon {
    /// Names of volumes the containers use.
    pub fn volume_in_use(&self, name: &str) -> bool {
        self.containers.all().iter().any(|c| {
            c.record()
                .mounts
                .iter()
                .any(|m| m.kind == "volume" && m.name == name)
        })
    }
}
