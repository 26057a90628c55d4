//! berth's accept rules in the iptables-nft filter tables (`table ip filter`,
//! `table ip6 filter`), so that a `FORWARD` chain with `policy drop` (dockerd's) lets
//! berth's bridges through. Docker's convention: at the top of `DOCKER-USER` when the
//! table has it, else at the top of `FORWARD`. Only expressions iptables-nft can read
//! back (`iptables -L` shows `ACCEPT ... /* berth:<table> */`):
//!
//! ```text
//! iifname "<bridge>" counter accept comment "berth:<table>"
//! oifname "<bridge>" counter accept comment "berth:<table>"
//! ```
//!
//! They are found again by their comment and deleted by handle.

use serde_json::Value;

use super::Desired;

/// The chains berth may have put rules in, in order of preference.
const CHAINS: [&str; 2] = ["DOCKER-USER", "FORWARD"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Ip,
    Ip6,
}

impl Family {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
        }
    }
}

/// What berth needs to know of one iptables-nft filter table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FilterTable {
    family: Family,
    /// `DOCKER-USER` when present, else `FORWARD` when present.
    target: Option<&'static str>,
    /// berth's rules for this table, in chain order.
    ours: Vec<Ours>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ours {
    chain: &'static str,
    handle: u64,
    /// `("iifname" | "oifname", bridge)` when the rule is one berth writes.
    key: Option<(String, String)>,
}

/// Bridges whose traffic must pass the `ip` and the `ip6` filter tables.
pub(crate) fn bridges(d: &Desired) -> (Vec<String>, Vec<String>) {
    let mut v4: Vec<String> = d.networks.iter().map(|n| n.bridge.clone()).collect();
    let mut v6: Vec<String> = d
        .networks
        .iter()
        .filter(|n| n.subnets.iter().any(|s| matches!(s, ipnet::IpNet::V6(_))))
        .map(|n| n.bridge.clone())
        .collect();
    for list in [&mut v4, &mut v6] {
        list.sort();
        list.dedup();
    }
    (v4, v6)
}

fn entries(v: &Value) -> Result<&Vec<Value>, String> {
    v.get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| "no \"nftables\" array".to_owned())
}

/// The families of `nft -j list tables` that have a table named `filter`.
pub(crate) fn filter_families(v: &Value) -> Result<Vec<Family>, String> {
    let mut out = Vec::new();
    for table in entries(v)?.iter().filter_map(|e| e.get("table")) {
        if table.get("name").and_then(Value::as_str) != Some("filter") {
            continue;
        }
        match table.get("family").and_then(Value::as_str) {
            Some("ip") => out.push(Family::Ip),
            Some("ip6") => out.push(Family::Ip6),
            _ => {}
        }
    }
    Ok(out)
}

impl FilterTable {
    /// Reads `nft -j list table <family> filter`.
    pub(crate) fn parse(family: Family, v: &Value, comment: &str) -> Result<FilterTable, String> {
        let entries = entries(v)?;
        let chains: Vec<&str> = entries
            .iter()
            .filter_map(|e| e.get("chain")?.get("name")?.as_str())
            .collect();
        let target = CHAINS.into_iter().find(|c| chains.contains(c));
        let mut table = FilterTable {
            family,
            target,
            ours: Vec::new(),
        };
        for rule in entries.iter().filter_map(|e| e.get("rule")) {
            let Some(chain) = rule
                .get("chain")
                .and_then(Value::as_str)
                .and_then(|c| CHAINS.into_iter().find(|k| *k == c))
            else {
                continue;
            };
            let handle = rule
                .get("handle")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("a rule of chain {chain} has no handle"))?;
            if rule.get("comment").and_then(Value::as_str) == Some(comment) {
                table.ours.push(Ours {
                    chain,
                    handle,
                    key: rule_key(rule),
                });
            }
        }
        Ok(table)
    }

    /// Whether berth's rules are exactly `want`, in order, in the target chain. Rules
    /// someone inserted above them later stay above: that is their choice to make.
    fn in_place(&self, want: &[(String, String)]) -> bool {
        self.ours.len() == want.len()
            && self.ours.iter().zip(want).all(|(ours, want)| {
                Some(ours.chain) == self.target && ours.key.as_ref() == Some(want)
            })
    }
}

/// `match meta iifname == "br"`, `counter`, `accept`: the rules berth writes.
fn rule_key(rule: &Value) -> Option<(String, String)> {
    let expr = rule.get("expr")?.as_array()?;
    let [m, counter, accept] = expr.as_slice() else {
        return None;
    };
    if counter.get("counter").is_none() || accept.get("accept").is_none() {
        return None;
    }
    let m = m.get("match")?;
    if m.get("op")?.as_str()? != "==" {
        return None;
    }
    let key = m.get("left")?.get("meta")?.get("key")?.as_str()?;
    if key != "iifname" && key != "oifname" {
        return None;
    }
    Some((key.to_owned(), m.get("right")?.as_str()?.to_owned()))
}

/// nft commands that leave exactly one `iifname` and one `oifname` accept rule per
/// bridge (v4 bridges in `ip filter`, v6 bridges in `ip6 filter`) at the top of each
/// table's target chain (at the top when written), and no other rule with `comment`. Empty when all is in place.
pub(crate) fn sync_script(
    tables: &[FilterTable],
    v4: &[String],
    v6: &[String],
    comment: &str,
) -> String {
    let mut out = String::new();
    for table in tables {
        let bridges = match table.family {
            Family::Ip => v4,
            Family::Ip6 => v6,
        };
        let want: Vec<(String, String)> = match table.target {
            Some(_) => bridges
                .iter()
                .flat_map(|b| ["iifname", "oifname"].map(|dir| (dir.to_owned(), b.clone())))
                .collect(),
            None => Vec::new(),
        };
        if table.in_place(&want) {
            continue;
        }
        let family = table.family.as_str();
        for ours in &table.ours {
            out.push_str(&format!(
                "delete rule {family} filter {} handle {}\n",
                ours.chain, ours.handle
            ));
        }
        if let Some(chain) = table.target {
            // Each insert goes to the top: insert in reverse to read in order.
            for (dir, bridge) in want.iter().rev() {
                out.push_str(&format!(
                    "insert rule {family} filter {chain} {dir} \"{bridge}\" counter accept comment \"{comment}\"\n"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nft -j list table ip filter` of a dockerd host, with two rules of berth's and
    /// one of another daemon's in DOCKER-USER (trimmed to what matters).
    fn docker_host() -> Value {
        serde_json::json!({"nftables": [
            {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
            {"table": {"family": "ip", "name": "filter", "handle": 1}},
            {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1,
                       "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
            {"chain": {"family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 2}},
            {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3,
                      "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"jump": {"target": "DOCKER-USER"}}]}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 9,
                      "comment": "berth:berth",
                      "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "berth0"}},
                               {"counter": {"packets": 1, "bytes": 2}}, {"accept": null}]}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 8,
                      "comment": "berth:berth",
                      "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "berth0"}},
                               {"counter": {"packets": 1, "bytes": 2}}, {"accept": null}]}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 7,
                      "comment": "berth:berth-x",
                      "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "br-x"}},
                               {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 4,
                      "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"return": null}]}}
        ]})
    }

    #[test]
    fn finds_the_families_with_a_filter_table() {
        let v = serde_json::json!({"nftables": [
            {"metainfo": {}},
            {"table": {"family": "ip", "name": "nat", "handle": 2}},
            {"table": {"family": "ip6", "name": "filter", "handle": 3}},
            {"table": {"family": "inet", "name": "filter", "handle": 4}}
        ]});
        assert_eq!(filter_families(&v).unwrap(), vec![Family::Ip6]);
        assert!(filter_families(&serde_json::json!({})).is_err());
    }

    #[test]
    fn rules_already_in_place_are_left_alone() {
        let t = FilterTable::parse(Family::Ip, &docker_host(), "berth:berth").unwrap();
        assert_eq!(t.target, Some("DOCKER-USER"));
        assert_eq!(
            sync_script(&[t], &["berth0".into()], &[], "berth:berth"),
            ""
        );
    }

    #[test]
    fn changed_bridges_replace_only_our_rules() {
        let t = FilterTable::parse(Family::Ip, &docker_host(), "berth:berth").unwrap();
        let got = sync_script(&[t], &["berth0".into(), "br-a".into()], &[], "berth:berth");
        assert_eq!(
            got,
            "delete rule ip filter DOCKER-USER handle 9\n\
             delete rule ip filter DOCKER-USER handle 8\n\
             insert rule ip filter DOCKER-USER oifname \"br-a\" counter accept comment \"berth:berth\"\n\
             insert rule ip filter DOCKER-USER iifname \"br-a\" counter accept comment \"berth:berth\"\n\
             insert rule ip filter DOCKER-USER oifname \"berth0\" counter accept comment \"berth:berth\"\n\
             insert rule ip filter DOCKER-USER iifname \"berth0\" counter accept comment \"berth:berth\"\n"
        );
        // The other daemon's table sees its own rule only, and removes it.
        let t = FilterTable::parse(Family::Ip, &docker_host(), "berth:berth-x").unwrap();
        assert_eq!(
            sync_script(&[t], &[], &[], "berth:berth-x"),
            "delete rule ip filter DOCKER-USER handle 7\n"
        );
    }

    #[test]
    fn without_docker_user_the_rules_go_to_forward() {
        let mut v = docker_host();
        let entries = v["nftables"].as_array_mut().unwrap();
        entries.retain(|e| {
            e.pointer("/chain/name").and_then(Value::as_str) != Some("DOCKER-USER")
                && e.pointer("/rule/chain").and_then(Value::as_str) != Some("DOCKER-USER")
        });
        let t = FilterTable::parse(Family::Ip6, &v, "berth:berth").unwrap();
        assert_eq!(t.target, Some("FORWARD"));
        assert_eq!(
            sync_script(&[t], &[], &["br-6".into()], "berth:berth"),
            "insert rule ip6 filter FORWARD oifname \"br-6\" counter accept comment \"berth:berth\"\n\
             insert rule ip6 filter FORWARD iifname \"br-6\" counter accept comment \"berth:berth\"\n"
        );
    }

    #[test]
    fn rules_someone_put_above_ours_stay_above() {
        let mut v = docker_host();
        v["nftables"].as_array_mut().unwrap().insert(
            5,
            serde_json::json!({"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER",
                "handle": 10, "expr": [{"drop": null}]}}),
        );
        let t = FilterTable::parse(Family::Ip, &v, "berth:berth").unwrap();
        assert_eq!(
            sync_script(&[t], &["berth0".into()], &[], "berth:berth"),
            ""
        );
    }

    #[test]
    fn a_rule_of_ours_in_the_wrong_chain_is_moved() {
        let mut v = docker_host();
        v["nftables"][6]["rule"]["chain"] = "FORWARD".into();
        let t = FilterTable::parse(Family::Ip, &v, "berth:berth").unwrap();
        let got = sync_script(&[t], &["berth0".into()], &[], "berth:berth");
        assert_eq!(
            got,
            "delete rule ip filter DOCKER-USER handle 9\n\
             delete rule ip filter FORWARD handle 8\n\
             insert rule ip filter DOCKER-USER oifname \"berth0\" counter accept comment \"berth:berth\"\n\
             insert rule ip filter DOCKER-USER iifname \"berth0\" counter accept comment \"berth:berth\"\n"
        );
    }
}
