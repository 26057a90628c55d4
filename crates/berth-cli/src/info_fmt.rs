//! The long human layouts: `info` server section and `system df -v`.

use serde_json::Value;

use crate::table::{short_id, tabwrite};
use crate::units::{bytes_size, human_size, human_size4};
use crate::util::since;

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn list(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().map(s).collect()
}

pub fn print_server(i: &Value) {
    println!("Server:");
    println!(" Containers: {}", s(&i["Containers"]));
    println!("  Running: {}", s(&i["ContainersRunning"]));
    println!("  Paused: {}", s(&i["ContainersPaused"]));
    println!("  Stopped: {}", s(&i["ContainersStopped"]));
    println!(" Images: {}", s(&i["Images"]));
    println!(" Server Version: {}", s(&i["ServerVersion"]));
    println!(" Storage Driver: {}", s(&i["Driver"]));
    for pair in i["DriverStatus"].as_array().into_iter().flatten() {
        let p = list(pair);
        if p.len() == 2 {
            println!("  {}: {}", p[0], p[1]);
        }
    }
    println!(" Logging Driver: {}", s(&i["LoggingDriver"]));
    println!(" Cgroup Driver: {}", s(&i["CgroupDriver"]));
    println!(" Cgroup Version: {}", s(&i["CgroupVersion"]));
    println!(" Plugins:");
    for k in ["Volume", "Network", "Log"] {
        let p = list(&i["Plugins"][k]);
        if !p.is_empty() {
            println!("  {k}: {}", p.join(" "));
        }
    }
    println!(
        " Swarm: {}",
        i["Swarm"]["LocalNodeState"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("inactive")
    );
    let mut rts: Vec<&String> = i["Runtimes"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    rts.sort();
    println!(
        " Runtimes: {}",
        rts.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    );
    println!(" Default Runtime: {}", s(&i["DefaultRuntime"]));
    println!(" Init Binary: {}", s(&i["InitBinary"]));
    println!(" containerd version: {}", s(&i["ContainerdCommit"]["ID"]));
    println!(" runc version: {}", s(&i["RuncCommit"]["ID"]));
    println!(" init version: {}", s(&i["InitCommit"]["ID"]));
    let sec = list(&i["SecurityOptions"]);
    if !sec.is_empty() {
        println!(" Security Options:");
        for o in sec {
            let mut parts = o.split(',');
            if let Some(name) = parts.next() {
                println!("  {}", name.trim_start_matches("name="));
            }
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    let mut k = k.to_string();
                    if let Some(f) = k.get_mut(0..1) {
                        f.make_ascii_uppercase();
                    }
                    println!("   {k}: {v}");
                }
            }
        }
    }
    println!(" Kernel Version: {}", s(&i["KernelVersion"]));
    println!(" Operating System: {}", s(&i["OperatingSystem"]));
    println!(" OSType: {}", s(&i["OSType"]));
    println!(" Architecture: {}", s(&i["Architecture"]));
    println!(" CPUs: {}", s(&i["NCPU"]));
    println!(
        " Total Memory: {}",
        bytes_size(i["MemTotal"].as_f64().unwrap_or(0.0))
    );
    println!(" Name: {}", s(&i["Name"]));
    println!(" ID: {}", s(&i["ID"]));
    println!(" Docker Root Dir: {}", s(&i["DockerRootDir"]));
    println!(" Debug Mode: {}", i["Debug"].as_bool().unwrap_or(false));
    println!(
        " Experimental: {}",
        i["ExperimentalBuild"].as_bool().unwrap_or(false)
    );
    // As the docker CLI: insecure registries by name, then the CIDRs; then the mirrors.
    let mut insecure: Vec<String> = i["RegistryConfig"]["IndexConfigs"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, c)| c["Secure"].as_bool() == Some(false))
        .map(|(n, _)| n.clone())
        .collect();
    insecure.extend(list(&i["RegistryConfig"]["InsecureRegistryCIDRs"]));
    if !insecure.is_empty() {
        println!(" Insecure Registries:");
        for r in insecure {
            println!("  {r}");
        }
    }
    let mirrors = list(&i["RegistryConfig"]["Mirrors"]);
    if !mirrors.is_empty() {
        println!(" Registry Mirrors:");
        for m in mirrors {
            println!("  {m}");
        }
    }
    println!(
        " Live Restore Enabled: {}",
        i["LiveRestoreEnabled"].as_bool().unwrap_or(false)
    );
    for w in list(&i["Warnings"]) {
        eprintln!("{w}");
    }
}

pub fn print_df_verbose(d: &Value) -> anyhow::Result<i32> {
    let mut t = String::from(
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS\n",
    );
    for img in d["Images"].as_array().into_iter().flatten() {
        let tags = list(&img["RepoTags"]);
        let tag = tags
            .first()
            .cloned()
            .unwrap_or_else(|| "<none>:<none>".into());
        let (repo, tag) = tag.rsplit_once(':').unwrap_or((&tag, "<none>"));
        let size = img["Size"].as_f64().unwrap_or(0.0);
        let shared = img["SharedSize"].as_f64().unwrap_or(-1.0);
        // -1 means "not computed": docker shows N/A for both.
        let (shared_s, unique_s) = if shared < 0.0 {
            ("N/A".to_string(), "N/A".to_string())
        } else {
            (human_size(shared), human_size(size - shared))
        };
        t.push_str(&format!(
            "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            short_id(img["Id"].as_str().unwrap_or_default()),
            since(img["Created"].as_i64().unwrap_or(0)),
            human_size(size),
            shared_s,
            unique_s,
            s(&img["Containers"]),
        ));
    }
    println!("Images space usage:\n\n{}", tabwrite(&t, 10, 3));
    let mut t =
        String::from("CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES\n");
    for c in d["Containers"].as_array().into_iter().flatten() {
        let row = crate::ps::row(c, true);
        let vols = c["Mounts"]
            .as_array()
            .map(|m| m.iter().filter(|m| m["Type"] == "volume").count())
            .unwrap_or(0);
        t.push_str(&format!(
            "{}\t{}\t{}\t{vols}\t{}\t{}\t{}\t{}\n",
            s(&row["ID"]),
            s(&row["Image"]),
            s(&row["Command"]),
            human_size(c["SizeRw"].as_f64().unwrap_or(0.0)),
            s(&row["RunningFor"]),
            s(&row["Status"]),
            s(&row["Names"]),
        ));
    }
    println!("Containers space usage:\n\n{}", tabwrite(&t, 10, 3));
    let mut t = String::from("VOLUME NAME\tLINKS\tSIZE\n");
    for v in d["Volumes"].as_array().into_iter().flatten() {
        t.push_str(&format!(
            "{}\t{}\t{}\n",
            s(&v["Name"]),
            s(&v["UsageData"]["RefCount"]),
            human_size(v["UsageData"]["Size"].as_f64().unwrap_or(0.0))
        ));
    }
    println!("Local Volumes space usage:\n\n{}", tabwrite(&t, 10, 3));
    let mut t = String::from("CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED\n");
    for b in d["BuildCache"].as_array().into_iter().flatten() {
        t.push_str(&format!(
            "{}\t{}\t{}\t\t\t{}\t{}\n",
            s(&b["ID"]),
            s(&b["Type"]),
            human_size4(b["Size"].as_f64().unwrap_or(0.0)),
            s(&b["UsageCount"]),
            b["Shared"].as_bool().unwrap_or(false)
        ));
    }
    print!(
        "Build cache usage: {}\n\n{}",
        human_size4(d["BuilderSize"].as_f64().unwrap_or(0.0)),
        tabwrite(&t, 10, 3)
    );
    Ok(0)
}
