//! `network rm` and `network prune`.

use anyhow::Result;
use serde_json::Value;

use super::values::filters;
use super::{into_error, path_escape, trim_id, OptErr};
use crate::client::{is_not_found, query};
use crate::flags::{b, l, Args, Matches, Spec};
use crate::util::confirm;
use crate::{status, Cli};

#[rustfmt::skip]
pub(super) fn spec() -> Spec {
    Spec::new(
        "network rm",
        "network rm NETWORK [NETWORK...]",
        "Remove one or more networks",
        vec![b("force", Some('f'), "Do not error if the network does not exist")],
    )
    .args(Args::Min(1))
}

#[rustfmt::skip]
pub(super) fn prune_spec() -> Spec {
    Spec::new(
        "network prune",
        "network prune [OPTIONS]",
        "Remove all unused networks",
        vec![
            l("filter", None, "filter", "Provide filter values (e.g. \"until=<timestamp>\")"),
            b("force", Some('f'), "Do not prompt for confirmation"),
        ],
    )
    .args(Args::None)
}

const INGRESS_WARNING: &str = "WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.";

pub(super) async fn run(cli: &Cli, m: &Matches) -> Result<i32> {
    let mut failed = false;
    for name in &m.args {
        let id = match trim_id("network", name) {
            Ok(id) => path_escape(id),
            Err(OptErr::Plain(e) | OptErr::Flag(e)) => {
                eprintln!("{e}");
                failed = true;
                continue;
            }
        };
        let path = format!("/networks/{id}");
        if let Ok(n) = cli.client.get_json(&path).await {
            if n["Ingress"].as_bool() == Some(true) && !confirm(INGRESS_WARNING) {
                continue;
            }
        }
        match cli.client.delete(&path).await {
            Ok(_) => println!("{name}"),
            Err(e) if m.flag("force") && is_not_found(&e) => {}
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(status(1, "exit status 1"));
    }
    Ok(0)
}

pub(super) async fn prune(cli: &Cli, canon: &str, m: &Matches) -> Result<i32> {
    let fail = |e: OptErr| into_error(canon, e);
    let config: Vec<String> = cli
        .config
        .get("pruneFilters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let f = filters(m, "--filter", &config).map_err(fail)?;
    if !m.flag("force")
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(0);
    }
    let r = cli
        .client
        .post_json(&query("/networks/prune", &[("filters", f)]), None)
        .await?;
    print!("{}", prune_output(&r));
    Ok(0)
}

/// "Deleted Networks:" and the names, then a blank line; nothing when none went.
pub fn prune_output(r: &Value) -> String {
    let names: Vec<&str> = r["NetworksDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if names.is_empty() {
        return String::new();
    }
    let mut out = String::from("Deleted Networks:\n");
    for n in names {
        out.push_str(n);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prune_report() {
        assert_eq!(prune_output(&json!({"NetworksDeleted": null})), "");
        assert_eq!(
            prune_output(&json!({"NetworksDeleted": ["n1", "n2"]})),
            "Deleted Networks:\nn1\nn2\n\n"
        );
    }
}
