//! `network connect` and `network disconnect`: their flags and request bodies.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Value};

use super::endpoint::{endpoint_ipam, endpoint_settings, strs_or_null};
use super::values::{check_link, go_int, obj, string_slice};
use super::{bad_flag, into_error, path_escape, trim_id, OptErr};
use crate::flags::{b, l, v, Args, Matches, Spec};
use crate::Cli;

#[rustfmt::skip]
pub(super) fn spec() -> Spec {
    Spec::new(
        "network connect",
        "network connect [OPTIONS] NETWORK CONTAINER",
        "Connect a container to a network",
        vec![
            l("alias", None, "strings", "Add network-scoped alias for the container"),
            l("driver-opt", None, "strings", "driver options for the network"),
            v("gw-priority", None, "int", "Highest gw-priority provides the default gateway. Accepts positive and negative values."),
            v("ip", None, "string", "IPv4 address (e.g., \"172.30.100.104\")"),
            v("ip6", None, "string", "IPv6 address (e.g., \"2001:db8::33\")"),
            l("link", None, "list", "Add link to another container"),
            l("link-local-ip", None, "strings", "Add a link-local address for the container"),
        ],
    )
    .args(Args::Exact(2))
}

#[rustfmt::skip]
pub(super) fn disconnect_spec() -> Spec {
    Spec::new(
        "network disconnect",
        "network disconnect [OPTIONS] NETWORK CONTAINER",
        "Disconnect a container from a network",
        vec![b("force", Some('f'), "Force the container to disconnect from a network")],
    )
    .args(Args::Exact(2))
}

/// The body of `POST /networks/{id}/connect`.
pub fn connect_body(container: &str, m: &Matches) -> Result<Value, OptErr> {
    let links = m.list("link");
    for link in &links {
        check_link(link).map_err(|e| bad_flag(link, "--link", e))?;
    }
    let aliases = string_slice(m, "alias")?;
    let link_local = string_slice(m, "link-local-ip")?;
    let opts = string_slice(m, "driver-opt")?;
    let gw = match m.value("gw-priority") {
        None => 0,
        Some(s) => go_int(s).map_err(|e| {
            bad_flag(
                s,
                "--gw-priority",
                format!("strconv.ParseInt: parsing {s:?}: {e}"),
            )
        })?,
    };
    let mut driver_opts = BTreeMap::new();
    for o in opts {
        match o.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                driver_opts.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => {
                return Err(OptErr::Plain(
                    "invalid key/value pair format in driver options".into(),
                ))
            }
        }
    }
    Ok(json!({
        "Container": container,
        "EndpointConfig": endpoint_settings(
            endpoint_ipam(&m.str("ip"), &m.str("ip6"), &link_local),
            strs_or_null(&links),
            json!(aliases),
            "",
            obj(driver_opts),
            gw,
        ),
    }))
}

pub(super) async fn run(cli: &Cli, canon: &str, m: &Matches) -> Result<i32> {
    let fail = |e: OptErr| into_error(canon, e);
    let net = trim_id("network", &m.args[0]).map_err(fail)?;
    let container = trim_id("container", &m.args[1]).map_err(fail)?;
    let (verb, body) = if canon == "network.connect" {
        ("connect", connect_body(container, m).map_err(fail)?)
    } else {
        (
            "disconnect",
            json!({"Container": container, "Force": m.flag("force")}),
        )
    };
    cli.client
        .post(
            &format!("/networks/{}/{verb}", path_escape(net)),
            Some(&body),
        )
        .await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::tests::parse;

    #[test]
    fn connect_bodies() {
        let m = parse("network.connect", &["net9", "c1"]);
        assert_eq!(
            connect_body("c1", &m).unwrap(),
            json!({"Container": "c1", "EndpointConfig": {
                "IPAMConfig": {}, "Links": null, "Aliases": [], "MacAddress": "", "DriverOpts": {},
                "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "DNSNames": null,
            }})
        );
        let m = parse(
            "network.connect",
            &[
                "--alias",
                "a,b",
                "--alias",
                "c",
                "--driver-opt",
                "k=v",
                "--driver-opt",
                " K2 = V2 ",
                "--ip",
                "10.0.0.5",
                "--ip6",
                "2001:db8::5",
                "--link",
                "x:y",
                "--link",
                "z",
                "--link-local-ip",
                "169.254.1.1,169.254.1.2",
                "--gw-priority",
                "5",
                "net9",
                "c1",
            ],
        );
        let ep = &connect_body("c1", &m).unwrap()["EndpointConfig"];
        assert_eq!(
            ep["IPAMConfig"],
            json!({"IPv4Address": "10.0.0.5", "IPv6Address": "2001:db8::5", "LinkLocalIPs": ["169.254.1.1", "169.254.1.2"]})
        );
        assert_eq!(ep["Links"], json!(["x:y", "z"]));
        assert_eq!(ep["Aliases"], json!(["a", "b", "c"]));
        assert_eq!(ep["DriverOpts"], json!({"K2": "V2", "k": "v"}));
        assert_eq!(ep["GwPriority"], 5);

        let m = parse("network.connect", &["--driver-opt", "bad", "n", "c"]);
        assert_eq!(
            connect_body("c", &m).unwrap_err(),
            OptErr::Plain("invalid key/value pair format in driver options".into())
        );
        let m = parse("network.connect", &["--link", "a:b:c", "n", "c"]);
        assert_eq!(
            connect_body("c", &m).unwrap_err(),
            OptErr::Flag(
                "invalid argument \"a:b:c\" for \"--link\" flag: bad format for links: a:b:c"
                    .into()
            )
        );
        let m = parse("network.connect", &["--gw-priority", "x", "n", "c"]);
        assert_eq!(
            connect_body("c", &m).unwrap_err(),
            OptErr::Flag("invalid argument \"x\" for \"--gw-priority\" flag: strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(go_int("0x10"), Ok(16));
        assert_eq!(go_int("-7"), Ok(-7));
        assert_eq!(go_int("99999999999999999999"), Err("value out of range"));
    }
}
