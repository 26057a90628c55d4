//! `network create`: its flags and the body of `POST /networks/create`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Value};

use super::ipam::{ipam_config, IpamOpts};
use super::values::{check_label, map_opt, obj, string_slice};
use super::{bad_flag, into_error, OptErr};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::Cli;

#[rustfmt::skip]
pub(super) fn spec() -> Spec {
    Spec::new(
        "network create",
        "network create [OPTIONS] NETWORK",
        "Create a network",
        vec![
            b("attachable", None, "Enable manual container attachment"),
            l("aux-address", None, "map", "Auxiliary IPv4 or IPv6 addresses used by Network driver").def("map[]"),
            v("config-from", None, "string", "The network from which to copy the configuration"),
            b("config-only", None, "Create a configuration only network"),
            v("driver", Some('d'), "string", "Driver to manage the Network").def("\"bridge\""),
            l("gateway", None, "strings", "IPv4 or IPv6 Gateway for the master subnet"),
            b("ingress", None, "Create swarm routing-mesh network"),
            b("internal", None, "Restrict external access to the network"),
            l("ip-range", None, "strings", "Allocate container ip from a sub-range"),
            v("ipam-driver", None, "string", "IP Address Management Driver").def("\"default\""),
            l("ipam-opt", None, "map", "Set IPAM driver specific options").def("map[]"),
            b("ipv4", None, "Enable or disable IPv4 address assignment").def("true"),
            b("ipv6", None, "Enable or disable IPv6 address assignment"),
            l("label", None, "list", "Set metadata on a network"),
            l("opt", Some('o'), "map", "Set driver specific options").def("map[]"),
            v("scope", None, "string", "Control the network's scope"),
            l("subnet", None, "strings", "Subnet in CIDR format that represents a network segment"),
        ],
    )
    .args(Args::Exact(1))
}

/// The body of `POST /networks/create` for `network create NAME` with flags `m`.
pub fn create_body(name: &str, m: &Matches) -> Result<Value, OptErr> {
    let labels = m.list("label");
    for lb in &labels {
        check_label(lb).map_err(|e| bad_flag(lb, "--label", e))?;
    }
    let ipam = IpamOpts {
        driver: m.value("ipam-driver").unwrap_or("default").to_string(),
        options: map_opt(m, "ipam-opt"),
        subnets: string_slice(m, "subnet")?,
        ranges: string_slice(m, "ip-range")?,
        gateways: string_slice(m, "gateway")?,
        aux: map_opt(m, "aux-address"),
    };
    let ipam = ipam_config(&ipam).map_err(OptErr::Plain)?;
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or((s, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let config_from = match m.value("config-from") {
        Some(n) if !n.is_empty() => json!({ "Network": n }),
        _ => Value::Null,
    };
    let mut body = json!({
        "Name": name,
        "Driver": m.value("driver").unwrap_or("bridge"),
        "Scope": m.str("scope"),
        "IPAM": ipam,
        "Internal": m.flag("internal"),
        "Attachable": m.flag("attachable"),
        "Ingress": m.flag("ingress"),
        "ConfigOnly": m.flag("config-only"),
        "ConfigFrom": config_from,
        "Options": obj(map_opt(m, "opt")),
        "Labels": obj(labels),
    });
    // Sent only when given, so the daemon applies its own defaults.
    for (flag, key) in [("ipv4", "EnableIPv4"), ("ipv6", "EnableIPv6")] {
        if m.has(flag) {
            body[key] = Value::Bool(m.flag(flag));
        }
    }
    Ok(body)
}

pub(super) async fn run(cli: &Cli, canon: &str, m: &Matches) -> Result<i32> {
    let fail = |e: OptErr| into_error(canon, e);
    let mut body = create_body(&m.args[0], m).map_err(fail)?;
    // Before API 1.44 the client asked the daemon to refuse duplicate names.
    let api = cli.client.api_version().await?;
    let old = api
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .is_some_and(|v| v < (1, 44));
    if old {
        body["CheckDuplicate"] = Value::Bool(true);
    }
    let r = cli
        .client
        .post_json("/networks/create", Some(&body))
        .await?;
    // docker prints the ID only; the response's Warning is not shown.
    println!("{}", r["Id"].as_str().unwrap_or_default());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::tests::parse;

    fn create(args: &[&str]) -> Result<Value, OptErr> {
        let m = parse("network.create", args);
        create_body(&m.args[0], &m)
    }

    #[test]
    fn create_defaults() {
        // What docker 28.2 sends for `network create n1`.
        assert_eq!(
            create(&["n1"]).unwrap(),
            json!({
                "Name": "n1", "Driver": "bridge", "Scope": "",
                "IPAM": {"Driver": "default", "Options": {}, "Config": []},
                "Internal": false, "Attachable": false, "Ingress": false, "ConfigOnly": false,
                "ConfigFrom": null, "Options": {}, "Labels": {},
            })
        );
    }

    #[test]
    fn create_everything() {
        let body = create(&[
            "--subnet",
            "10.1.0.0/16",
            "--subnet",
            "10.2.0.0/24",
            "--gateway",
            "10.1.0.1",
            "--ip-range",
            "10.2.0.0/25",
            "--aux-address",
            "a=10.1.0.5",
            "--aux-address",
            "b=10.2.0.9",
            "--ipam-opt",
            "x=y",
            "--ipam-opt",
            "z",
            "-o",
            "com.x=1",
            "-o",
            "q",
            "--label",
            "l1=v",
            "--label",
            "l2",
            "--internal",
            "--attachable",
            "--ingress",
            "--scope",
            "local",
            "--config-only",
            "--config-from",
            "cf",
            "--ipv6",
            "--ipv4=false",
            "-d",
            "mydrv",
            "--ipam-driver",
            "ipd",
            "n2",
        ])
        .unwrap();
        assert_eq!(
            body,
            json!({
                "Name": "n2", "Driver": "mydrv", "Scope": "local",
                "EnableIPv4": false, "EnableIPv6": true,
                "IPAM": {
                    "Driver": "ipd", "Options": {"x": "y", "z": ""},
                    "Config": [
                        {"Subnet": "10.1.0.0/16", "Gateway": "10.1.0.1", "AuxiliaryAddresses": {"a": "10.1.0.5"}},
                        {"Subnet": "10.2.0.0/24", "IPRange": "10.2.0.0/25", "AuxiliaryAddresses": {"b": "10.2.0.9"}},
                    ],
                },
                "Internal": true, "Attachable": true, "Ingress": true, "ConfigOnly": true,
                "ConfigFrom": {"Network": "cf"}, "Options": {"com.x": "1", "q": ""},
                "Labels": {"l1": "v", "l2": ""},
            })
        );
    }

    #[test]
    fn create_comma_separated_and_ipv6() {
        let body = create(&[
            "--subnet",
            "2001:db8::/64",
            "--gateway",
            "2001:db8::1",
            "--subnet",
            "10.0.0.0/8,11.0.0.0/8",
            "--gateway",
            "11.0.0.1,10.0.0.1",
            "n",
        ])
        .unwrap();
        assert_eq!(
            body["IPAM"]["Config"],
            json!([
                {"Subnet": "2001:db8::/64", "Gateway": "2001:db8::1"},
                {"Subnet": "10.0.0.0/8", "Gateway": "10.0.0.1"},
                {"Subnet": "11.0.0.0/8", "Gateway": "11.0.0.1"},
            ])
        );
        // An unchecked subnet goes to the daemon as is, as docker does.
        let body = create(&["--subnet", "bogus", "n"]).unwrap();
        assert_eq!(body["IPAM"]["Config"], json!([{"Subnet": "bogus"}]));
    }

    #[test]
    fn create_flag_errors() {
        match create(&["--label", "=x", "n"]) {
            Err(OptErr::Flag(m)) => assert_eq!(
                m,
                "invalid argument \"=x\" for \"--label\" flag: invalid label '=x': empty name"
            ),
            other => panic!("{other:?}"),
        }
        match create(&["--subnet", "a\"b", "n"]) {
            Err(OptErr::Flag(m)) => assert!(m.contains("bare \" in non-quoted-field"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            create(&["--gateway", "10.0.0.1", "n"]).unwrap_err(),
            OptErr::Plain("every ip-range or gateway must have a corresponding subnet".into())
        );
    }
}
