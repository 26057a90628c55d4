//! `system df` and `system prune`.

use anyhow::Result;
use serde_json::{json, Value};

use crate::client::query;
use crate::flags::Matches;
use crate::table::Formatter;
use crate::units::human_size4;
use crate::util::{confirm, filters_json, reclaimed};
use crate::Cli;

fn pct(reclaimable: i64, total: i64) -> String {
    if total > 0 {
        format!(
            "{} ({}%)",
            human_size4(reclaimable as f64),
            reclaimable * 100 / total
        )
    } else {
        human_size4(reclaimable as f64)
    }
}

pub fn df_rows(d: &Value) -> Vec<Value> {
    let arr = |k: &str| d[k].as_array().cloned().unwrap_or_default();
    let images = arr("Images");
    let total = d["LayersSize"].as_i64().unwrap_or(0);
    let mut used = 0;
    for i in &images {
        if i["Containers"].as_i64().unwrap_or(0) != 0 {
            let (size, shared) = (
                i["Size"].as_i64().unwrap_or(-1),
                i["SharedSize"].as_i64().unwrap_or(-1),
            );
            if size != -1 && shared != -1 {
                used += size - shared;
            }
        }
    }
    let img_active = images
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .count();
    let ctrs = arr("Containers");
    let c_size: i64 = ctrs.iter().map(|c| c["SizeRw"].as_i64().unwrap_or(0)).sum();
    let c_active = ctrs.iter().filter(|c| c["State"] == "running").count();
    let c_recl: i64 = ctrs
        .iter()
        .filter(|c| c["State"] != "running")
        .map(|c| c["SizeRw"].as_i64().unwrap_or(0))
        .sum();
    let vols = arr("Volumes");
    let v_size: i64 = vols
        .iter()
        .filter_map(|v| v["UsageData"]["Size"].as_i64())
        .filter(|s| *s > 0)
        .sum();
    let v_active = vols
        .iter()
        .filter(|v| v["UsageData"]["RefCount"].as_i64().unwrap_or(0) > 0)
        .count();
    let v_recl: i64 = vols
        .iter()
        .filter(|v| v["UsageData"]["RefCount"].as_i64().unwrap_or(0) == 0)
        .filter_map(|v| v["UsageData"]["Size"].as_i64())
        .filter(|s| *s > 0)
        .sum();
    let bc = arr("BuildCache");
    let b_size: i64 = bc.iter().map(|b| b["Size"].as_i64().unwrap_or(0)).sum();
    let b_active = bc
        .iter()
        .filter(|b| b["InUse"].as_bool().unwrap_or(false))
        .count();
    let b_recl: i64 = bc
        .iter()
        .filter(|b| {
            !b["InUse"].as_bool().unwrap_or(false) && !b["Shared"].as_bool().unwrap_or(false)
        })
        .map(|b| b["Size"].as_i64().unwrap_or(0))
        .sum();
    let row = |t: &str, n: usize, a: usize, size: i64, recl: String| json!({"Type": t, "TotalCount": n.to_string(), "Active": a.to_string(), "Size": human_size4(size as f64), "Reclaimable": recl});
    vec![
        row(
            "Images",
            images.len(),
            img_active,
            total,
            pct(total - used, total),
        ),
        row(
            "Containers",
            ctrs.len(),
            c_active,
            c_size,
            pct(c_recl, c_size),
        ),
        row(
            "Local Volumes",
            vols.len(),
            v_active,
            v_size,
            pct(v_recl, v_size),
        ),
        row(
            "Build Cache",
            bc.len(),
            b_active,
            b_size,
            human_size4(b_recl as f64),
        ),
    ]
}

pub async fn df(cli: &Cli, m: &Matches) -> Result<i32> {
    let d = cli.client.get_json("/system/df").await?;
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    if m.flag("verbose") {
        return crate::info_fmt::print_df_verbose(&d);
    }
    Formatter::new(
        &m.str("format"),
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        None,
    )?
    .print(&headers, &df_rows(&d))?;
    Ok(0)
}

pub async fn prune(cli: &Cli, m: &Matches) -> Result<i32> {
    let all = m.flag("all");
    let mut warn = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
    if m.flag("volumes") {
        warn.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warn.push_str(if all {
        "  - all images without at least one container associated to them\n  - all build cache\n"
    } else {
        "  - all dangling images\n  - unused build cache\n"
    });
    if !m.flag("force") && !confirm(&warn) {
        return Ok(0);
    }
    let filters = filters_json(&m.list("filter"))?;
    let mut total = 0u64;
    let c = cli
        .client
        .post_json(
            &query("/containers/prune", &[("filters", filters.clone())]),
            None,
        )
        .await?;
    total += c["SpaceReclaimed"].as_u64().unwrap_or(0);
    let ids = c["ContainersDeleted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !ids.is_empty() {
        println!("Deleted Containers:");
        ids.iter()
            .for_each(|i| println!("{}", i.as_str().unwrap_or_default()));
        println!();
    }
    if let Ok(n) = cli
        .client
        .post_json(
            &query("/networks/prune", &[("filters", filters.clone())]),
            None,
        )
        .await
    {
        let nets = n["NetworksDeleted"].as_array().cloned().unwrap_or_default();
        if !nets.is_empty() {
            println!("Deleted Networks:");
            nets.iter()
                .for_each(|i| println!("{}", i.as_str().unwrap_or_default()));
            println!();
        }
    }
    if m.flag("volumes") {
        let v = cli
            .client
            .post_json(
                &query("/volumes/prune", &[("filters", filters.clone())]),
                None,
            )
            .await?;
        total += v["SpaceReclaimed"].as_u64().unwrap_or(0);
        let names = v["VolumesDeleted"].as_array().cloned().unwrap_or_default();
        if !names.is_empty() {
            println!("Deleted Volumes:");
            names
                .iter()
                .for_each(|i| println!("{}", i.as_str().unwrap_or_default()));
            println!();
        }
    }
    let f = crate::util::add_filter(&filters, "dangling", if all { "false" } else { "true" });
    let i = cli
        .client
        .post_json(&query("/images/prune", &[("filters", f)]), None)
        .await?;
    total += i["SpaceReclaimed"].as_u64().unwrap_or(0);
    let items = i["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !items.is_empty() {
        println!("Deleted Images:");
        for it in &items {
            if let Some(u) = it["Untagged"].as_str() {
                println!("untagged: {u}");
            }
            if let Some(d) = it["Deleted"].as_str() {
                println!("deleted: {d}");
            }
        }
        println!();
    }
    let all_q = if all { "1".to_string() } else { String::new() };
    if let Ok(b) = cli
        .client
        .post_json(
            &query("/build/prune", &[("all", all_q), ("filters", filters)]),
            None,
        )
        .await
    {
        total += b["SpaceReclaimed"].as_u64().unwrap_or(0);
        let ids = b["CachesDeleted"].as_array().cloned().unwrap_or_default();
        if !ids.is_empty() {
            println!("Deleted build cache objects:");
            ids.iter()
                .for_each(|i| println!("{}", i.as_str().unwrap_or_default()));
            println!();
        }
    }
    println!("{}", reclaimed(total));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_table() {
        let d = json!({
            "LayersSize": 4_261_000, "Images": [{"Containers": 1, "Size": 4_261_000, "SharedSize": 0}],
            "Containers": [{"State": "exited", "SizeRw": 0}], "Volumes": [], "BuildCache": [],
        });
        let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
        let out = Formatter::new(
            "",
            "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
            None,
        )
        .unwrap()
        .render(&headers, &df_rows(&d))
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
        );
        assert_eq!(
            lines[1],
            "Images          1         1         4.261MB   0B (0%)"
        );
        assert_eq!(lines[2], "Containers      1         0         0B        0B");
    }
}
