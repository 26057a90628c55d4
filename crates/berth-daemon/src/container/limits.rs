//! Resource settings of a HostConfig checked against this host before a container exists,
//! with dockerd's messages: CPU sets, CFS and real-time CPU options, the OOM score,
//! storage options; and settings the kernel cannot apply, dropped with a warning.

use berth_api::ApiError;
use serde_json::{Map, Value};

use super::cgroup;

/// The CPUs or memory nodes of a cpuset list (`0-2,4`); `None` when it does not parse.
pub fn parse_cpuset(list: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in list.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// What the host offers: the root cpuset's list on v1, else the kernel's online list.
fn available(cpuset_file: &str, online: &str, fallback: &str) -> String {
    [
        format!("/sys/fs/cgroup/cpuset/{cpuset_file}"),
        online.to_string(),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty())
    .unwrap_or_else(|| fallback.to_string())
}

fn check_cpuset(requested: &str, what: &str, avail: &str) -> Result<(), ApiError> {
    if requested.is_empty() {
        return Ok(());
    }
    let Some(wanted) = parse_cpuset(requested) else {
        return Err(ApiError::invalid(format!(
            "Invalid value {requested} for cpuset {what}: invalid format: {requested}"
        )));
    };
    let have = parse_cpuset(avail).unwrap_or_default();
    if wanted.iter().any(|n| !have.contains(n)) {
        let kind = if what == "cpus" {
            "CPUs"
        } else {
            "memory nodes"
        };
        return Err(ApiError::invalid(format!(
            "Requested {kind} are not available - requested {requested}, available: {avail}"
        )));
    }
    Ok(())
}

const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// Refuses what dockerd refuses among the memory (beyond create's own checks), CPU,
/// OOM-score, shm and storage settings; `update` for the body of an update.
pub fn check(hc: &Map<String, Value>, update: bool) -> Result<(), ApiError> {
    let int = |k: &str| hc.get(k).and_then(Value::as_i64).unwrap_or(0);
    let text = |k: &str| hc.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (memory, swap, reservation) = (int("Memory"), int("MemorySwap"), int("MemoryReservation"));
    if memory == 0 && swap > 0 && !update {
        return Err(ApiError::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if reservation > 0 && reservation < MIN_MEMORY {
        return Err(ApiError::invalid(
            "Minimum memory reservation allowed is 6MB",
        ));
    }
    if memory > 0 && reservation > 0 && memory < reservation {
        return Err(ApiError::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if int("CpuShares") < 0 {
        return Err(ApiError::invalid(format!(
            "invalid CPU shares ({}): value must be a positive integer",
            int("CpuShares")
        )));
    }
    if int("ShmSize") < 0 {
        return Err(ApiError::invalid("SHM size can not be less than 0"));
    }
    let nano = int("NanoCpus");
    if nano > 0 && int("CpuPeriod") > 0 {
        return Err(ApiError::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if nano > 0 && int("CpuQuota") > 0 {
        return Err(ApiError::invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let period = int("CpuPeriod");
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(ApiError::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    let quota = int("CpuQuota");
    if quota > 0 && quota < 1000 {
        return Err(ApiError::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    check_cpuset(
        &text("CpusetCpus"),
        "cpus",
        &available("cpuset.cpus", "/sys/devices/system/cpu/online", "0"),
    )?;
    check_cpuset(
        &text("CpusetMems"),
        "mems",
        &available("cpuset.mems", "/sys/devices/system/node/online", "0"),
    )?;
    let (rt_period, rt_runtime) = (int("CpuRealtimePeriod"), int("CpuRealtimeRuntime"));
    if (rt_period != 0 || rt_runtime != 0) && !cgroup::realtime_supported() {
        return Err(ApiError::invalid(
            "kernel does not support CPU real-time scheduler",
        ));
    }
    if rt_period != 0 && rt_runtime != 0 && rt_runtime > rt_period {
        return Err(ApiError::invalid(
            "cpu real-time runtime cannot be higher than cpu real-time period",
        ));
    }
    let oom = int("OomScoreAdj");
    if !(-1000..=1000).contains(&oom) {
        return Err(ApiError::invalid(format!(
            "Invalid value {oom}, range for oom score adj is [-1000, 1000]"
        )));
    }
    let weight = int("BlkioWeight");
    if weight > 0 && !(10..=1000).contains(&weight) {
        return Err(ApiError::invalid(
            "Range of blkio weight is from 10 to 1000",
        ));
    }
    if hc
        .get("StorageOpt")
        .and_then(Value::as_object)
        .is_some_and(|o| !o.is_empty())
    {
        // dockerd's overlay2 takes a size only on xfs with project quotas; berth has none.
        return Err(ApiError::system(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ));
    }
    Ok(())
}

/// Whether a v1 host can weigh block I/O (CFQ's `blkio.weight` or BFQ's).
fn blkio_weight_supported() -> bool {
    cgroup::version() == cgroup::Version::V2
        || ["blkio.weight", "blkio.bfq.weight"].iter().any(|f| {
            std::path::Path::new("/sys/fs/cgroup/blkio")
                .join(f)
                .exists()
        })
}

/// Drops the I/O weights this kernel cannot apply; returns dockerd's warnings for them.
pub fn discard_unsupported(hc: &mut Map<String, Value>) -> Vec<String> {
    let mut warnings = Vec::new();
    if blkio_weight_supported() {
        return warnings;
    }
    if hc.get("BlkioWeight").and_then(Value::as_i64).unwrap_or(0) > 0 {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .to_string(),
        );
        hc.insert("BlkioWeight".into(), Value::from(0));
    }
    if hc
        .get("BlkioWeightDevice")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        warnings.push(
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."
                .to_string(),
        );
        hc.insert("BlkioWeightDevice".into(), Value::Array(Vec::new()));
    }
    warnings
}

/// Go's JSON decoding matches keys without regard to case, so clients may send
/// `CPURealtimePeriod` (docker-py does) for `CpuRealtimePeriod`: such keys are renamed
/// to the spelling in `known`.
pub fn canonical_keys(map: &mut Map<String, Value>, known: &[&str]) {
    let odd: Vec<(String, &str)> = map
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .filter_map(|k| {
            known
                .iter()
                .find(|c| c.eq_ignore_ascii_case(k))
                .map(|c| (k.clone(), *c))
        })
        .collect();
    for (from, to) in odd {
        if let Some(v) = map.remove(&from) {
            map.entry(to.to_string()).or_insert(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn cpusets() {
        assert_eq!(parse_cpuset("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpuset("1"), Some(vec![1]));
        assert_eq!(parse_cpuset("2-1"), None);
        assert_eq!(parse_cpuset("a"), None);
        assert!(check_cpuset("0,1", "cpus", "0-1").is_ok());
        let e = check_cpuset("0-63", "cpus", "0-1").unwrap_err();
        assert_eq!(
            e.message,
            "Requested CPUs are not available - requested 0-63, available: 0-1"
        );
        assert!(check_cpuset("x", "mems", "0").is_err());
    }

    #[test]
    fn refusals() {
        assert!(check(
            &hc(json!({"NanoCpus": 1000000000, "CpuQuota": 50000})),
            false
        )
        .is_err());
        assert!(check(&hc(json!({"MemorySwap": 1 << 30})), false).is_err());
        assert!(check(&hc(json!({"MemorySwap": 1 << 30})), true).is_ok());
        assert!(check(
            &hc(json!({"Memory": 16 << 20, "MemoryReservation": 32 << 20})),
            false
        )
        .is_err());
        assert!(check(&hc(json!({"CpuShares": -1})), false).is_err());
        let e = check(&hc(json!({"OomScoreAdj": 1001})), false).unwrap_err();
        assert_eq!(e.kind.status(), 400);
        assert!(e.message.contains("range for oom score adj"));
        assert!(check(&hc(json!({"OomScoreAdj": -1000})), false).is_ok());
        assert!(check(&hc(json!({"CpuPeriod": 500})), false).is_err());
        assert!(check(&hc(json!({"BlkioWeight": 5})), false).is_err());
        assert!(check(&hc(json!({"StorageOpt": {"size": "1G"}})), false).is_err());
        assert!(check(&hc(json!({"StorageOpt": {}})), false).is_ok());
        if cgroup::realtime_supported() {
            let rt = |period: i64| {
                check(
                    &hc(json!({"CpuRealtimePeriod": period, "CpuRealtimeRuntime": 5000})),
                    false,
                )
            };
            assert!(rt(1000).is_err());
            assert!(rt(10000).is_ok());
        }
    }

    #[test]
    fn keys_without_case() {
        let mut m = hc(json!({"CPURealtimePeriod": 1000, "cpushares": 3, "Other": 1}));
        canonical_keys(&mut m, &["CpuRealtimePeriod", "CpuShares"]);
        assert_eq!(m["CpuRealtimePeriod"], 1000);
        assert_eq!(m["CpuShares"], 3);
        assert_eq!(m["Other"], 1);
        assert_eq!(m.len(), 3);
    }
}
