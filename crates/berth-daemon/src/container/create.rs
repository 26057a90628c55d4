//! `POST /containers/create`: validate, merge the image's config, make the root filesystem,
//! the generated files and the volumes, then record the container.

use std::sync::Arc;

use berth_api::ApiError;
use serde_json::{json, Map, Value};

use super::files;
use super::names::{random_name, valid_name};
use super::record::{MountPoint, Record, State};
use super::{now, str_list, Container};
use crate::volumes::parse_mounts;
use crate::Daemon;

fn env_key(e: &str) -> &str {
    e.split_once('=').map_or(e, |(k, _)| k)
}

/// Image config fields under container ones, as docker merges them.
pub(crate) fn merge_image_config(config: &mut Map<String, Value>, image: &Value) {
    let ic = &image["config"];
    // Env: the image's, overridden key by key by the container's.
    let mut env = str_list(&ic["Env"]);
    for e in str_list(config.get("Env").unwrap_or(&Value::Null)) {
        env.retain(|x| env_key(x) != env_key(&e));
        env.push(e);
    }
    config.insert("Env".into(), json!(env));
    let user_entrypoint = config.get("Entrypoint").is_some_and(|v| !v.is_null());
    let cmd_empty = str_list(config.get("Cmd").unwrap_or(&Value::Null)).is_empty();
    if !user_entrypoint {
        config.insert("Entrypoint".into(), ic["Entrypoint"].clone());
        if cmd_empty {
            config.insert("Cmd".into(), ic["Cmd"].clone());
        }
    }
    for key in ["WorkingDir", "User", "StopSignal"] {
        let empty = config
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if empty {
            if let Some(v) = ic.get(key).filter(|v| !v.is_null()) {
                config.insert(key.into(), v.clone());
            }
        }
    }
    for key in ["Labels", "ExposedPorts", "Volumes"] {
        let mut merged = ic[key].as_object().cloned().unwrap_or_default();
        if let Some(own) = config.get(key).and_then(Value::as_object) {
            merged.extend(own.clone());
        }
        let value = if merged.is_empty() && key != "Labels" {
            Value::Null
        } else {
            Value::Object(merged)
        };
        config.insert(key.into(), value);
    }
    super::health::merge(config, &ic["Healthcheck"]);
}

/// Docker's defaults for the Config object, so inspect shows every key.
fn config_defaults(config: &mut Map<String, Value>) {
    let defaults = json!({
        "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
        "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
        "StdinOnce": false, "Env": [], "Cmd": null, "Image": "", "Volumes": null,
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": {}
    });
    for (k, v) in defaults.as_object().into_iter().flatten() {
        if config.get(k).is_none_or(|x| x.is_null() && !v.is_null()) {
            config.insert(k.clone(), v.clone());
        }
    }
}

/// Docker's defaults for the HostConfig object, so inspect shows every key.
fn host_config_default_values() -> Value {
    json!({
        "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null, "ConsoleSize": [0, 0],
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "private", "Dns": [], "DnsOptions": [],
        "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null, "IpcMode": "private", "Cgroup": "",
        "Links": null, "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Runtime": "runc", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
        "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": [], "DeviceCgroupRules": null,
        "DeviceRequests": null, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
        "OomKillDisable": null, "PidsLimit": null, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0,
        "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": [], "ReadonlyPaths": [],
        "Mounts": null, "Tmpfs": null, "Init": null
    })
}

/// HostConfig keys berth knows besides those with a default.
const OTHER_HOST_CONFIG_KEYS: &[&str] = &["Sysctls", "KernelMemory", "StorageOpt", "Capabilities"];

/// Renames keys a client sent in another case (Go decodes JSON keys without case).
fn canonical_host_config_keys(hc: &mut Map<String, Value>) {
    let defaults = host_config_default_values();
    let mut known: Vec<&str> = defaults
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    known.extend_from_slice(OTHER_HOST_CONFIG_KEYS);
    super::limits::canonical_keys(hc, &known);
}

fn host_config_defaults(hc: &mut Map<String, Value>) {
    let defaults = host_config_default_values();
    let privileged = hc
        .get("Privileged")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for (k, v) in defaults.as_object().into_iter().flatten() {
        let missing = match hc.get(k) {
            None => true,
            Some(Value::Null) => !v.is_null(),
            Some(Value::String(s)) => s.is_empty() && v.as_str().is_some_and(|d| !d.is_empty()),
            Some(Value::Number(n)) => k == "ShmSize" && n.as_i64() == Some(0),
            _ => false,
        };
        if missing {
            hc.insert(k.clone(), v.clone());
        }
    }
    // As dockerd shows them: the default log driver, unset limits as null, the paths it
    // masks, and no empty optional keys.
    if hc["LogConfig"]["Type"].as_str().is_none_or(str::is_empty) {
        hc.insert(
            "LogConfig".into(),
            json!({"Type": "json-file", "Config": {}}),
        );
    }
    if hc["MemorySwappiness"].as_i64() == Some(-1) {
        hc.insert("MemorySwappiness".into(), Value::Null);
    }
    if hc["PidsLimit"].as_i64().is_some_and(|p| p <= 0) {
        hc.insert("PidsLimit".into(), Value::Null);
    }
    for (key, paths) in [
        ("MaskedPaths", berth_runtime::spec::MASKED_PATHS),
        ("ReadonlyPaths", berth_runtime::spec::READONLY_PATHS),
    ] {
        if hc[key].as_array().is_none_or(Vec::is_empty) {
            let list: &[&str] = if privileged { &[] } else { paths };
            hc.insert(key.into(), json!(list));
        }
    }
    for key in ["Init", "Mounts", "Tmpfs"] {
        if hc.get(key).is_some_and(Value::is_null) {
            hc.remove(key);
        }
    }
}

impl Daemon {
    /// Creates a container; returns its id and warnings.
    pub async fn create_container(
        self: &Arc<Self>,
        name: Option<&str>,
        body: Value,
    ) -> Result<(String, Vec<String>), ApiError> {
        let Value::Object(mut config) = body else {
            return Err(ApiError::invalid(
                "config cannot be empty in order to create a container",
            ));
        };
        let mut host_config = match config.remove("HostConfig") {
            Some(Value::Object(m)) => m,
            Some(Value::Null) | None => Map::new(),
            Some(_) => return Err(ApiError::invalid("HostConfig must be an object")),
        };
        canonical_host_config_keys(&mut host_config);
        let networking = config.remove("NetworkingConfig").unwrap_or(Value::Null);
        let image_name = config
            .get("Image")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if image_name.is_empty() {
            return Err(ApiError::invalid(
                "config cannot be empty in order to create a container",
            ));
        }
        // Before the image is resolved, as dockerd: a bad setting is not a missing image.
        super::health::validate(&config)?;
        super::restart::validate(&host_config)?;
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) if !valid_name(n) => {
                return Err(ApiError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )))
            }
            Some(n) => n.trim_start_matches('/').to_string(),
            None => loop {
                let n = random_name();
                if self.containers.name_taken(&n).is_none() {
                    break n;
                }
            },
        };
        let image = self
            .images
            .resolve(&image_name)
            .map_err(crate::images::api_err)?;
        let image_config: Value = self
            .images
            .config_bytes(&image.id)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        merge_image_config(&mut config, &image_config);
        config_defaults(&mut config);
        // The host config is checked first, as dockerd does.
        self.check_modes(&host_config)?;
        let discarded = super::limits::discard_unsupported(&mut host_config);
        super::logs::resolve_log_config(&self.config, &mut host_config)?;
        host_config_defaults(&mut host_config);
        let links = str_list(host_config.get("Links").unwrap_or(&Value::Null));
        if !links.is_empty() {
            let links = self.normalize_links(&name, &links)?;
            host_config.insert("Links".into(), json!(links));
        }
        let mode = host_config
            .get("NetworkMode")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let networks = self
            .initial_endpoints(
                &mode,
                &networking["EndpointsConfig"],
                config.get("MacAddress").and_then(Value::as_str),
            )
            .map_err(|e| match e.kind {
                berth_api::ErrorKind::NotFound => ApiError::invalid(e.message),
                _ => e,
            })?;
        let mut args: Vec<String> = str_list(&config["Entrypoint"]);
        args.extend(str_list(&config["Cmd"]));
        if args.is_empty() {
            return Err(ApiError::invalid("No command specified"));
        }

        let id = new_id();
        let host_net = host_config.get("NetworkMode").and_then(Value::as_str) == Some("host")
            || host_config.get("UTSMode").and_then(Value::as_str) == Some("host");
        let hostname = match config["Hostname"].as_str() {
            Some(h) if !h.is_empty() => h.to_string(),
            // As docker: on the host's network the container takes the host's name.
            _ if host_net => nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| id[..12].to_string()),
            _ => id[..12].to_string(),
        };
        config.insert("Hostname".into(), json!(hostname));
        let _guard = self.create_lock.lock().await;
        if let Some(other) = self.containers.name_taken(&name) {
            return Err(ApiError::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        let dir = self.container_dir(&id);
        let made = self.make_container_dir(&id, &image.id, &hostname, &host_config);
        let mounts = match made {
            Ok(()) => {
                let (config, host_config) = anonymous_binds(&config, &host_config);
                parse_mounts(self, &config, &host_config, &self.rootfs_dir(&id))
            }
            Err(e) => Err(e),
        };
        let mounts: Vec<MountPoint> = match mounts {
            Ok(m) => m,
            Err(e) => {
                let _ = berth_image::rootfs::remove(&dir);
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let layers: Vec<String> = match self
            .images
            .hold_layers(&id, &image.id)
            .and_then(|_| self.images.layer_dirs(&image.id))
        {
            Ok(l) => l.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            Err(e) => {
                let _ = berth_image::rootfs::remove(&dir);
                let _ = std::fs::remove_dir_all(&dir);
                let _ = self.images.release_layers(&id);
                return Err(crate::images::api_err(e));
            }
        };
        let record = Record {
            id: id.clone(),
            name: name.clone(),
            created: now(),
            image_name: image_name.clone(),
            image_id: image.id.clone(),
            path: args[0].clone(),
            args: args[1..].to_vec(),
            config: Value::Object(config),
            host_config: Value::Object(host_config),
            state: State::created(),
            restart_count: 0,
            driver: self.storage_driver(),
            mounts,
            exec_ids: Vec::new(),
            has_been_manually_stopped: false,
            layers,
            networks,
            ports: Vec::new(),
            port_target: None,
        };
        if let Err(e) = self.table.put(&id, &record) {
            let _ = berth_image::rootfs::remove(&dir);
            let _ = std::fs::remove_dir_all(&dir);
            let _ = self.images.release_layers(&id);
            return Err(ApiError::system(e.to_string()));
        }
        let container = Container::new(record);
        self.containers.insert(container.clone());
        self.container_event(&container, "create", &[]);
        let mut warnings = discarded;
        warnings.extend(super::security::warnings(&container.record().host_config));
        let publishes = record_ports_wanted(&container.record().host_config);
        if mode == "host" && publishes {
            warnings.push("Published ports are discarded when using host network mode".to_string());
        }
        Ok((id, warnings))
    }

    /// Refuses namespace modes that name something missing, and impossible limits.
    fn check_modes(&self, hc: &Map<String, Value>) -> Result<(), ApiError> {
        super::security::check(&Value::Object(hc.clone()))?;
        super::userns::check(&Value::Object(hc.clone()), self.remap.is_some())?;
        let int = |k: &str| hc.get(k).and_then(Value::as_i64).unwrap_or(0);
        let memory = int("Memory");
        if memory > 0 && memory < 6 * 1024 * 1024 {
            return Err(ApiError::invalid("Minimum memory limit allowed is 6MB"));
        }
        let swap = int("MemorySwap");
        if swap > 0 && memory > 0 && swap < memory {
            return Err(ApiError::invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        let nano = int("NanoCpus");
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        if nano < 0 || nano > ncpu * 1_000_000_000 {
            return Err(ApiError::invalid(format!(
                "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )));
        }
        super::limits::check(hc, false)?;
        let net = hc
            .get("NetworkMode")
            .and_then(Value::as_str)
            .unwrap_or("default");
        match net {
            "default" | "bridge" | "none" | "host" | "" => {}
            other if other.starts_with("container:") => {
                let target = &other["container:".len()..];
                self.containers.find(target)?;
            }
            // 400, not 404: on a 404 the docker CLI would try to pull the image.
            other => {
                self.networks
                    .find(other)
                    .map_err(|e| ApiError::invalid(e.message))?;
            }
        }
        for key in ["PidMode", "IpcMode"] {
            if let Some(target) = hc
                .get(key)
                .and_then(Value::as_str)
                .and_then(|m| m.strip_prefix("container:"))
            {
                self.containers.find(target)?;
            }
        }
        Ok(())
    }

    /// The container's directory with its root filesystem mounted and generated files.
    fn make_container_dir(
        &self,
        id: &str,
        image_id: &str,
        hostname: &str,
        hc: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let dir = self.container_dir(id);
        let io = |e: std::io::Error| ApiError::system(format!("container {id}: {e}"));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let hc_value = Value::Object(hc.clone());
        let mapping = self.container_mapping(&hc_value);
        self.mount_rootfs(id, image_id, mapping)?;
        let strs = |k: &str| str_list(hc.get(k).unwrap_or(&Value::Null));
        files::write_hostname(&dir, hostname).map_err(io)?;
        files::write_hosts(&dir, &strs("ExtraHosts"), &[]).map_err(io)?;
        let host_net = hc.get("NetworkMode").and_then(Value::as_str) == Some("host");
        files::write_resolv_conf(
            &dir,
            &strs("Dns"),
            &strs("DnsSearch"),
            &strs("DnsOptions"),
            host_net,
        )
        .map_err(io)?;
        if let Some(mapping) = mapping {
            self.chown_generated_files(id, mapping)?;
        }
        Ok(())
    }
}

/// Whether `-p` or `-P` asked for published ports.
fn record_ports_wanted(hc: &Value) -> bool {
    hc["PortBindings"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
        || hc["PublishAllPorts"].as_bool().unwrap_or(false)
}

/// dockerd takes a bare container path in `Binds` (docker-py sends `volumes=["/data"]` so)
/// for an anonymous volume: the mount parser gets those as `Volumes` instead.
fn anonymous_binds(
    config: &Map<String, Value>,
    hc: &Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let (mut config, mut hc) = (config.clone(), hc.clone());
    let binds = str_list(hc.get("Binds").unwrap_or(&Value::Null));
    let (bare, rest): (Vec<String>, Vec<String>) = binds
        .into_iter()
        .partition(|b| b.starts_with('/') && !b.contains(':'));
    if !bare.is_empty() {
        let mut volumes = config
            .get("Volumes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for path in bare {
            volumes.insert(path, json!({}));
        }
        config.insert("Volumes".into(), Value::Object(volumes));
        hc.insert("Binds".into(), json!(rest));
    }
    (config, hc)
}

/// A new 64-hex-digit container id (never all digits, as docker avoids).
pub fn new_id() -> String {
    loop {
        let bytes: [u8; 32] = rand::random();
        let id = hex::encode(bytes);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_config_merge() {
        let image = json!({"config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/w",
            "Labels": {"a": "1"}}});
        let mut c = json!({"Env": ["A=2"], "Cmd": null, "Labels": {"b": "2"}})
            .as_object()
            .unwrap()
            .clone();
        merge_image_config(&mut c, &image);
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2"]));
        assert_eq!(c["Cmd"], json!(["sh"]));
        assert_eq!(c["WorkingDir"], "/w");
        assert_eq!(c["Labels"], json!({"a": "1", "b": "2"}));
        // An entrypoint given by the user drops the image's Cmd.
        let mut c = json!({"Entrypoint": ["echo"]}).as_object().unwrap().clone();
        merge_image_config(&mut c, &image);
        assert!(c.get("Cmd").is_none_or(Value::is_null));
    }

    #[test]
    fn ids() {
        let id = new_id();
        assert_eq!(id.len(), 64);
    }
}
