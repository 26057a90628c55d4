use super::*;
use serde_json::json;

fn parse(canon: &str, args: &[&str]) -> Matches {
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    spec(canon)
        .unwrap()
        .parse(&argv)
        .unwrap_or_else(|e| panic!("{e:?}"))
}

fn create(args: &[&str]) -> Result<Value, OptErr> {
    let m = parse("network.create", args);
    create_body(&m.args[0], &m)
}

fn ipam(
    subnets: &[&str],
    ranges: &[&str],
    gateways: &[&str],
    aux: &[(&str, &str)],
) -> Result<Value, String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    ipam_config(&IpamOpts {
        driver: "default".into(),
        options: BTreeMap::new(),
        subnets: s(subnets),
        ranges: s(ranges),
        gateways: s(gateways),
        aux: aux
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
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
fn ipam_errors() {
    let err = |r: Result<Value, String>| r.unwrap_err();
    assert_eq!(
        err(ipam(&[], &[], &["10.0.0.1"], &[])),
        "every ip-range or gateway must have a corresponding subnet"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8"], &[], &["10.0.0.1", "10.0.0.2"], &[])),
        "every ip-range or gateway must have a corresponding subnet"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8"], &[], &["11.0.0.1"], &[])),
        "no matching subnet for gateway 11.0.0.1"
    );
    assert_eq!(
        err(ipam(
            &["10.0.0.0/8", "11.0.0.0/8"],
            &[],
            &["10.0.0.1", "10.0.0.2"],
            &[]
        )),
        "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/8)"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8", "11.0.0.0/8"], &["10.1.0.0/16", "10.2.0.0/16"], &[], &[])),
        "cannot configure multiple ranges (10.2.0.0/16, 10.1.0.0/16) on the same subnet (10.0.0.0/8)"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8"], &["11.1.0.0/16"], &[], &[])),
        "no matching subnet for range 11.1.0.0/16"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8"], &["10.1.0.1"], &[], &[])),
        "invalid CIDR address: 10.1.0.1"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8", "10.1.0.0/16"], &[], &[], &[])),
        "multiple overlapping subnet configuration is not supported"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8"], &[], &[], &[("a", "11.0.0.1")])),
        "no matching subnet for aux-address 11.0.0.1"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8"], &[], &[], &[("a", "")])),
        "no matching subnet for aux-address "
    );
    assert_eq!(
        err(ipam(&["bogus"], &[], &["10.0.0.1"], &[])),
        "invalid subnet: invalid CIDR address: bogus"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8", "bogus"], &[], &[], &[])),
        "invalid subnet: invalid CIDR address: bogus"
    );
    assert_eq!(
        err(ipam(&["10.0.0.0/8"], &[], &["bogus"], &[])),
        "no matching subnet for gateway bogus"
    );
    // The host part of a subnet is kept; the gateway still matches it.
    let ok = ipam(&["10.0.0.1/8"], &[], &["10.0.0.1"], &[]).unwrap();
    assert_eq!(
        ok["Config"],
        json!([{"Subnet": "10.0.0.1/8", "Gateway": "10.0.0.1"}])
    );
    // IPv4-mapped addresses count as IPv4, as in Go.
    assert!(subnet_matches("10.0.0.0/8", "::ffff:10.1.2.3").unwrap());
    assert!(!subnet_matches("2001:db8::/32", "10.1.2.3").unwrap());
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

#[test]
fn csv_like_go() {
    assert_eq!(csv_fields("a,b").unwrap(), vec!["a", "b"]);
    assert_eq!(csv_fields("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
    assert_eq!(csv_fields("a,").unwrap(), vec!["a", ""]);
    assert_eq!(csv_fields("\"x\"\"y\"").unwrap(), vec!["x\"y"]);
    assert!(csv_fields("\"open").is_err());
}

#[test]
fn filter_query() {
    let m = parse(
        "network.ls",
        &[
            "-f",
            "driver=bridge",
            "-f",
            "name=x",
            "-f",
            "label=a=b",
            "-f",
            " Type = custom ",
            "-f",
            "dangling=true",
        ],
    );
    assert_eq!(
        filters(&m, "-f, --filter", &[]).unwrap(),
        r#"{"dangling":{"true":true},"driver":{"bridge":true},"label":{"a=b":true},"name":{"x":true},"type":{"custom":true}}"#
    );
    let m = parse("network.ls", &[]);
    assert_eq!(filters(&m, "-f, --filter", &[]).unwrap(), "");
    let m = parse("network.ls", &["-f", "nope"]);
    assert_eq!(
        filters(&m, "-f, --filter", &[]).unwrap_err(),
        OptErr::Flag(
            "invalid argument \"nope\" for \"-f, --filter\" flag: bad format of filter (expected name=value)".into()
        )
    );
    // The config file's pruneFilters merge in; a "label" one only next to a
    // "label!" flag that does not name it (docker's ExactMatch quirk).
    let m = parse(
        "network.prune",
        &["--filter", "label!=keep", "--filter", "until=1h"],
    );
    let cfg = vec!["label=keep".to_string(), "label=x".to_string()];
    assert_eq!(
        filters(&m, "--filter", &cfg).unwrap(),
        r#"{"label":{"x":true},"label!":{"keep":true},"until":{"1h":true}}"#
    );
    let m = parse("network.prune", &[]);
    let cfg = vec!["label=keep".to_string(), "until=5m".to_string()];
    assert_eq!(
        filters(&m, "--filter", &cfg).unwrap(),
        r#"{"until":{"5m":true}}"#
    );
}

fn sample() -> Vec<Value> {
    vec![
        json!({"Name": "net10", "Id": "1234567890ab1234567890ab", "Created": "2024-05-02T11:00:00Z", "Scope": "local", "Driver": "bridge", "EnableIPv4": true, "EnableIPv6": true, "Internal": true, "Labels": {"b": "2", "a": "1"}}),
        json!({"Name": "bridge", "Id": "aaaa1111bbbb2222cccc", "Created": "2024-05-01T10:00:00.123456789Z", "Scope": "local", "Driver": "bridge", "EnableIPv4": true, "EnableIPv6": false, "Internal": false, "Labels": {}}),
        json!({"Name": "net9", "Id": "abcdefabcdef0000", "Created": "2024-05-02T11:00:00+02:00", "Scope": "local", "Driver": "bridge", "Labels": null}),
        json!({"Name": "host", "Id": "ffff", "Created": "0001-01-01T00:00:00Z", "Scope": "local", "Driver": "host", "Labels": {}}),
    ]
}

fn render(format: &str, quiet: bool, trunc: bool) -> anyhow::Result<String> {
    let mut list = sample();
    list.sort_by(|a, b| natural_cmp(a["Name"].as_str().unwrap(), b["Name"].as_str().unwrap()));
    Formatter::new(&ls_format(format, None, quiet), DEFAULT_TABLE, None)?
        .context("*network.networkContext")
        .render(&headers(), &rows(&list, trunc))
}

#[test]
fn ls_table() {
    assert_eq!(
        render("", false, true).unwrap(),
        "NETWORK ID     NAME      DRIVER    SCOPE\n\
         aaaa1111bbbb   bridge    bridge    local\n\
         ffff           host      host      local\n\
         abcdefabcdef   net9      bridge    local\n\
         1234567890ab   net10     bridge    local\n"
    );
    assert_eq!(
        render("", true, true).unwrap(),
        "aaaa1111bbbb\nffff\nabcdefabcdef\n1234567890ab\n"
    );
    // -q only replaces the default table.
    assert_eq!(
        render("{{.Name}}", true, true).unwrap(),
        "bridge\nhost\nnet9\nnet10\n"
    );
    assert_eq!(
        render("table {{.ID}}", true, true).unwrap(),
        "NETWORK ID\naaaa1111bbbb\nffff\nabcdefabcdef\n1234567890ab\n"
    );
    assert_eq!(
        render("raw", true, true).unwrap(),
        "network_id: aaaa1111bbbb\nnetwork_id: ffff\nnetwork_id: abcdefabcdef\nnetwork_id: 1234567890ab\n"
    );
    assert!(render("raw", false, true)
        .unwrap()
        .starts_with("network_id: aaaa1111bbbb\nname: bridge\ndriver: bridge\nscope: local\n\nnetwork_id: ffff\n"));
}

#[test]
fn ls_fields() {
    let out = render(
        "{{.ID}} {{.Name}} [{{.Labels}}] {{.IPv6}} {{.Internal}} {{.CreatedAt}} {{.IPv4}} {{.Label \"a\"}}",
        false,
        false,
    )
    .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "aaaa1111bbbb2222cccc bridge [] false false 2024-05-01 10:00:00.123456789 +0000 UTC true "
    );
    assert_eq!(
        lines[1],
        "ffff host [] false false 0001-01-01 00:00:00 +0000 UTC false "
    );
    assert!(lines[2].starts_with("abcdefabcdef0000 net9 [] false false 2024-05-02 11:00:00 +0200 "));
    assert_eq!(
        lines[3],
        "1234567890ab1234567890ab net10 [a=1,b=2] true true 2024-05-02 11:00:00 +0000 UTC true 1"
    );
    let json_line = render("json", false, true).unwrap();
    assert_eq!(
        json_line.lines().next().unwrap(),
        r#"{"CreatedAt":"2024-05-01 10:00:00.123456789 +0000 UTC","Driver":"bridge","ID":"aaaa1111bbbb","IPv4":"true","IPv6":"false","Internal":"false","Labels":"","Name":"bridge","Scope":"local"}"#
    );
    let e = render("{{.Foo}}", false, true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template parsing error: template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo in type *network.networkContext"
    );
}

#[test]
fn natural_order() {
    let mut v = vec!["net10", "net9", "a", "net09", "B", "net1x"];
    v.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(v, vec!["B", "a", "net1x", "net9", "net09", "net10"]);
}

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
            "invalid argument \"a:b:c\" for \"--link\" flag: bad format for links: a:b:c".into()
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

#[test]
fn attachments() {
    let a = parse_attachment("name=MyNet,alias=a1,alias=a2,ip=10.0.0.3,driver-opt=k=v,gw-priority=3,mac-address=02:42:ac:11:00:03").unwrap();
    assert_eq!(a.target, "mynet");
    assert_eq!(a.aliases, vec!["a1", "a2"]);
    assert_eq!(a.ipv4, "10.0.0.3");
    assert_eq!(a.gw_priority, 3);
    assert_eq!(a.driver_opts.get("k").map(String::as_str), Some("v"));
    assert_eq!(parse_attachment("my-net").unwrap().target, "my-net");
    assert_eq!(
        parse_attachment("name=n,bogus=1").unwrap_err(),
        "invalid field key bogus"
    );
    assert_eq!(
        parse_attachment("alias=a").unwrap_err(),
        "network name/id is not specified"
    );
    assert_eq!(
        parse_attachment("name=n,gw-priority=x").unwrap_err(),
        "invalid gw-priority (x): invalid syntax"
    );
    assert!(valid_mac("02:42:ac:11:00:02"));
    assert!(valid_mac("02-42-ac-11-00-02"));
    assert!(valid_mac("0242.ac11.0002"));
    assert!(!valid_mac("zz"));
    assert!(!valid_mac("02:42:ac:11:00:0g"));
    assert!(user_defined("mynet"));
    assert!(!user_defined("container:abc"));
    assert!(!user_defined("host"));
}

#[test]
fn prune_report() {
    assert_eq!(prune_output(&json!({"NetworksDeleted": null})), "");
    assert_eq!(
        prune_output(&json!({"NetworksDeleted": ["n1", "n2"]})),
        "Deleted Networks:\nn1\nn2\n\n"
    );
}

#[test]
fn help_lists_docker_flags() {
    // Wrapping depends on the terminal, so only the starts of lines are checked.
    let h = spec("network.create").unwrap().help();
    assert!(
        h.contains("\n  -d, --driver string        Driver to manage the Network"),
        "{h}"
    );
    assert!(
        h.contains("\n      --ipv4                 Enable or disable IPv4 address assignment"),
        "{h}"
    );
    assert!(h.contains("(default true)\n"), "{h}");
    assert!(h.starts_with("Usage:  docker network create [OPTIONS] NETWORK\n\nCreate a network\n"));
}
