//! The berth CLI's network commands (`network create|ls|inspect|rm|connect|disconnect|
//! prune`), `port`, the PORTS column of `ps` and `run`'s networking errors, end to end
//! against a real daemon and compared with the official docker CLI talking to the same
//! daemon: exit code, stdout and stderr.
//!
//! Commands that change state run once with each CLI, with the state put back in
//! between; IDs (which then differ) are masked. Explicit subnets are sub-blocks of the
//! upper half of the daemon's own pool (networks without `--subnet` get /28s from its
//! start), so nothing collides with other daemons.

mod common;

use std::process::Output;

use common::compare::{code, norm, ok, same, same_eventually, started};
use common::{stderr, stdout, TestDaemon};

/// `/len` at `off` in the upper half of the daemon's pool, e.g. `10.x.y.160/27`.
fn block(d: &TestDaemon, off: u8, len: u8) -> String {
    format!("{}/{len}", addr(d, off))
}

/// The address at `off` in the upper half of the daemon's pool.
fn addr(d: &TestDaemon, off: u8) -> String {
    let base = d.pool.trim_end_matches(".0/24");
    format!("{base}.{}", 128 + u16::from(off))
}

/// Every run of 64 hex digits (an ID) replaced.
fn mask_ids(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in s.chars() {
        if matches!(c, '0'..='9' | 'a'..='f') {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "<id>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.push_str(if run.len() == 64 { "<id>" } else { &run });
    out
}

fn masked(o: &Output) -> (i32, String, String) {
    (
        code(o),
        mask_ids(&norm(&stdout(o))),
        mask_ids(&norm(&stderr(o))),
    )
}

/// `network inspect NAME` with Id and Created masked; `None` if there is no such network.
fn inspect_masked(d: &TestDaemon, name: &str) -> Option<serde_json::Value> {
    let o = d.docker(&["network", "inspect", name]);
    if code(&o) != 0 {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v[0]["Id"] = "<id>".into();
    v[0]["Created"] = "<created>".into();
    Some(v)
}

fn exists(d: &TestDaemon, name: &str) -> bool {
    code(&d.docker(&["network", "inspect", "-f", "{{.Name}}", name])) == 0
}

/// `network create ARGS... NAME` with each CLI in turn, the network removed after each:
/// the same exit code, output (ID masked) and network.
#[track_caller]
fn same_create(d: &TestDaemon, args: &[&str], name: &str) -> Output {
    assert!(!exists(d, name), "{name} exists already");
    let mut full = vec!["network", "create"];
    full.extend_from_slice(args);
    full.push(name);
    let run = |o: Output| {
        let made = inspect_masked(d, name);
        if made.is_some() {
            ok(d, &["network", "rm", name]);
        }
        (o, made)
    };
    let (b, b_net) = run(d.berth(&full));
    let (k, k_net) = run(d.docker(&full));
    assert_eq!(masked(&b), masked(&k), "berth vs docker for {full:?}");
    assert_eq!(
        b_net, k_net,
        "the network berth and docker made for {full:?}"
    );
    b
}

/// A command that changes state, run with each CLI after `setup` (and `undo` after):
/// the same exit code and output.
#[track_caller]
fn same_after(
    d: &TestDaemon,
    args: &[&str],
    setup: impl Fn(&TestDaemon),
    undo: impl Fn(&TestDaemon),
) -> Output {
    setup(d);
    let b = d.berth(args);
    undo(d);
    setup(d);
    let k = d.docker(args);
    undo(d);
    assert_eq!(masked(&b), masked(&k), "berth vs docker for {args:?}");
    b
}

/// `act` then `back` with berth, then both with docker: each the same with both CLIs.
#[track_caller]
fn same_pair(d: &TestDaemon, act: &[&str], back: &[&str]) -> (Output, Output) {
    let (b1, b2) = (d.berth(act), d.berth(back));
    let (k1, k2) = (d.docker(act), d.docker(back));
    assert_eq!(masked(&b1), masked(&k1), "berth vs docker for {act:?}");
    assert_eq!(masked(&b2), masked(&k2), "berth vs docker for {back:?}");
    (b1, b2)
}

/// Nothing of a test left: no container, no user network.
#[track_caller]
fn assert_clean(d: &TestDaemon) {
    assert_eq!(ok(d, &["ps", "-aq"]), "", "containers left");
    assert_eq!(
        ok(d, &["network", "ls", "-q", "--filter", "type=custom"]),
        "",
        "networks left"
    );
}

fn sleeper(d: &TestDaemon, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sleep", "600"]);
    ok(d, &args);
}

#[test]
fn network_help_is_docker_help() {
    let d = TestDaemon::start();
    for sub in [
        "",
        "create",
        "ls",
        "list",
        "inspect",
        "rm",
        "remove",
        "connect",
        "disconnect",
        "prune",
    ] {
        let args: Vec<&str> = ["network", sub, "--help"]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let o = same(&d, &args);
        assert_eq!(code(&o), 0, "{args:?}");
        assert!(
            stdout(&o).starts_with("Usage:  berth network"),
            "{}",
            stdout(&o)
        );
    }
    same(&d, &["network"]);
    same(&d, &["network", "--help"]);
    let o = same(&d, &["network", "bogus"]);
    assert_eq!(code(&o), 1);
    same(&d, &["port", "--help"]);
    // Argument counts.
    for args in [
        &["network", "create"][..],
        &["network", "create", "a", "b"],
        &["network", "ls", "x"],
        &["network", "inspect"],
        &["network", "rm"],
        &["network", "connect", "x"],
        &["network", "disconnect", "x"],
        &["network", "prune", "x"],
        &["port"],
    ] {
        let o = same(&d, args);
        assert_eq!(code(&o), 1, "{args:?}");
    }
    let o = same(&d, &["network", "ls", "--bogus"]);
    assert_eq!(code(&o), 125);
}

#[test]
fn network_create() {
    let d = TestDaemon::start();
    let o = same_create(&d, &[], "plain");
    assert_eq!(mask_ids(&stdout(&o)), "<id>\n");
    let (sub, gw, range) = (block(&d, 0, 26), addr(&d, 1), block(&d, 32, 27));
    let (aux1, aux2) = (format!("a={}", addr(&d, 2)), format!("b={}", addr(&d, 3)));
    same_create(
        &d,
        &[
            "--subnet",
            &sub,
            "--gateway",
            &gw,
            "--ip-range",
            &range,
            "--aux-address",
            &aux1,
            "--aux-address",
            &aux2,
        ],
        "ipam",
    );
    same_create(&d, &["--subnet", &sub], "subnet-only");
    same_create(
        &d,
        &["--label", "a=1", "--label", "flag", "--label", "x=y=z"],
        "labelled",
    );
    same_create(
        &d,
        &[
            "-o",
            "com.docker.network.driver.mtu=1400",
            "--opt",
            "com.docker.network.bridge.enable_icc=false",
        ],
        "opts",
    );
    same_create(&d, &["--internal"], "internal");
    same_create(&d, &["--attachable"], "attachable");
    same_create(&d, &["-d", "bridge", "--internal", "--attachable"], "both");
    // What berth made is what was asked for.
    ok(
        &d,
        &[
            "network",
            "create",
            "--subnet",
            &sub,
            "--gateway",
            &gw,
            "--label",
            "k=v",
            "--internal",
            "kept",
        ],
    );
    let o = same(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{.Internal}} {{.Attachable}} {{.Labels}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
            "kept",
        ],
    );
    assert_eq!(stdout(&o), format!("true false map[k:v] {sub} {gw}\n"));

    // Errors.
    let o = same(&d, &["network", "create", "kept"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: network with name kept already exists\n"
    );
    let o = same_create(&d, &["--subnet", "10.1.2.3/33"], "bad");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).starts_with("Error response from daemon: "),
        "{}",
        stderr(&o)
    );
    let o = same_create(&d, &["--subnet", "notasubnet"], "bad");
    assert_eq!(code(&o), 1);
    let o = same_create(&d, &["--subnet", &block(&d, 16, 28)], "overlap");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("overlaps"), "{}", stderr(&o));
    let o = same_create(&d, &["--ipam-driver", "foo"], "ipamfoo");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("foo"), "{}", stderr(&o));
    let o = same_create(&d, &["-d", "foo"], "driverfoo");
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("foo"), "{}", stderr(&o));
    // The CLI's own checks.
    let o = same_create(&d, &["--gateway", &gw], "nosubnet");
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (
            1,
            "every ip-range or gateway must have a corresponding subnet\n"
        )
    );
    let o = same_create(
        &d,
        &["--subnet", &block(&d, 64, 27), "--gateway", "10.9.9.9"],
        "gwout",
    );
    assert_eq!(stderr(&o), "no matching subnet for gateway 10.9.9.9\n");
    let o = same_create(&d, &["--label", ""], "emptylabel");
    assert_eq!(code(&o), 125);
    ok(&d, &["network", "rm", "kept"]);
    assert_clean(&d);
}

#[test]
fn network_ls() {
    let d = TestDaemon::start();
    ok(&d, &["network", "create", "--label", "a=1", "net-a"]);
    ok(
        &d,
        &["network", "create", "--label", "b", "--internal", "net-b"],
    );
    ok(&d, &["network", "create", "other"]);
    let o = same(&d, &["network", "ls"]);
    let table = stdout(&o);
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(names, ["bridge", "host", "net-a", "net-b", "none", "other"]);
    assert!(stdout(&o).starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"));
    same(&d, &["network", "list"]);
    let o = same(&d, &["network", "ls", "-q"]);
    assert_eq!(stdout(&o).lines().count(), 6);
    assert!(stdout(&o).lines().all(|l| l.len() == 12), "{}", stdout(&o));
    let o = same(&d, &["network", "ls", "--no-trunc"]);
    assert!(stdout(&o)
        .lines()
        .skip(1)
        .all(|l| l.split_whitespace().next().unwrap().len() == 64));
    same(&d, &["network", "ls", "-q", "--no-trunc"]);
    for format in [
        "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.IPv4}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.CreatedAt}}",
        "table {{.Name}}\t{{.Driver}}\t{{.Internal}}\t{{.Labels}}",
        "table {{.ID}}\t{{.IPv4}}\t{{.IPv6}}\t{{.CreatedAt}}",
        "table",
        "json",
        "raw",
        "{{json .}}",
        "{{.Name}}: {{.Label \"a\"}}",
        "{{.Name}}\t{{upper .Driver}}",
    ] {
        same(&d, &["network", "ls", "--format", format]);
    }
    let o = same(
        &d,
        &[
            "network",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Labels}}",
            "-f",
            "label=a",
        ],
    );
    assert_eq!(stdout(&o), "NAME      LABELS\nnet-a     a=1\n");
    let o = same(
        &d,
        &["network", "ls", "--format", "json", "-f", "name=net-b"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["Name"], "net-b");
    assert_eq!(v["Internal"], "true");
    assert_eq!(v["Labels"], "b=");
    // -q wins over a format without one given.
    same(&d, &["network", "ls", "-q", "--format", "table"]);

    let names = |filters: &[&str]| {
        let mut args = vec!["network", "ls", "--format", "{{.Name}}"];
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        stdout(&same(&d, &args))
    };
    assert_eq!(names(&["name=net"]), "net-a\nnet-b\n");
    assert_eq!(names(&["name=net-a"]), "net-a\n");
    assert_eq!(names(&["name=net-a", "name=other"]), "net-a\nother\n");
    assert_eq!(names(&["driver=bridge"]), "bridge\nnet-a\nnet-b\nother\n");
    assert_eq!(names(&["driver=null"]), "none\n");
    assert_eq!(names(&["label=a"]), "net-a\n");
    assert_eq!(names(&["label=a=1"]), "net-a\n");
    assert_eq!(names(&["label=a=2"]), "");
    assert_eq!(names(&["label=b", "name=net"]), "net-b\n");
    assert_eq!(names(&["type=custom"]), "net-a\nnet-b\nother\n");
    assert_eq!(names(&["type=builtin"]), "bridge\nhost\nnone\n");
    assert_eq!(names(&["dangling=true"]), "net-a\nnet-b\nother\n");
    assert_eq!(names(&["dangling=false"]), "bridge\nhost\nnone\n");
    assert_eq!(names(&["scope=local", "driver=host"]), "host\n");
    let id = ok(&d, &["network", "inspect", "-f", "{{.Id}}", "other"]);
    assert_eq!(names(&[&format!("id={}", &id[..12])]), "other\n");
    same(&d, &["network", "ls", "-f", "type=custom"]);
    same(&d, &["network", "ls", "-q", "-f", "dangling=true"]);

    // Bad filters and formats.
    let o = same(&d, &["network", "ls", "-f", "bogus=1"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (1, "Error response from daemon: invalid filter 'bogus'\n")
    );
    let o = same(&d, &["network", "ls", "-f", "noequals"]);
    assert_eq!(code(&o), 125);
    assert!(stderr(&o).starts_with(
        "invalid argument \"noequals\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n"
    ));
    let o = same(&d, &["network", "ls", "-f", "type=nope"]);
    assert_eq!(code(&o), 1);
    let o = same(&d, &["network", "ls", "--format", "{{.Nope}}"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("can't evaluate field Nope"),
        "{}",
        stderr(&o)
    );
    let o = same(&d, &["network", "ls", "--format", "{{"]);
    assert_eq!(code(&o), 1);

    ok(&d, &["network", "rm", "net-a", "net-b", "other"]);
    assert_clean(&d);
}

#[test]
fn network_inspect() {
    let d = started();
    let sub = block(&d, 0, 28);
    let ip = addr(&d, 5);
    ok(
        &d,
        &[
            "network", "create", "--subnet", &sub, "--label", "k=v", "insp",
        ],
    );
    ok(&d, &["network", "create", "--internal", "insp2"]);
    sleeper(&d, "member", &["--network", "insp", "--ip", &ip]);

    let o = same(&d, &["network", "inspect", "insp"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["Name"], "insp");
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], sub.as_str());
    assert!(
        stdout(&o).starts_with("[\n    {\n        \""),
        "{}",
        stdout(&o)
    );
    let o = same(
        &d,
        &[
            "network", "inspect", "insp", "insp2", "bridge", "host", "none",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    same(
        &d,
        &["network", "inspect", "--format", "json", "insp", "insp2"],
    );
    same(&d, &["network", "inspect", "-v", "insp"]);

    for format in [
        "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{.Ingress}} {{.EnableIPv6}}",
        "{{json .IPAM}}",
        "{{.IPAM}}",
        "{{.IPAM.Config}}",
        "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
        "{{index .IPAM.Config 0}}",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        "{{range $id, $c := .Containers}}{{$id}}={{$c.Name}},{{$c.MacAddress}},{{$c.IPv6Address}};{{end}}",
        "{{json .Containers}}",
        "{{.Containers}}",
        "{{len .Containers}}",
        "{{json .}}",
        "{{.}}",
        "{{.Created}}",
        "{{json .Created}}",
        "{{.Id}} {{.ID}}",
        "{{.Labels}} {{json .Labels}} {{.Labels.k}} {{index .Labels \"k\"}}",
        "{{.Options}} {{json .Options}} {{.ConfigFrom}} {{json .ConfigFrom}} {{.ConfigOnly}}",
        "{{.Peers}} {{json .Peers}} {{.Services}}",
        "{{if .Internal}}internal{{else}}open{{end}}",
    ] {
        same(&d, &["network", "inspect", "-f", format, "insp", "insp2"]);
        same(&d, &["network", "inspect", "-f", format, "bridge"]);
    }
    let o = same(&d, &["network", "inspect", "-f", "{{json .IPAM}}", "insp"]);
    assert_eq!(
        stdout(&o),
        format!(
            "{{\"Driver\":\"default\",\"Options\":{{}},\"Config\":[{{\"Subnet\":\"{sub}\",\"Gateway\":\"{}\"}}]}}\n",
            addr(&d, 1)
        )
    );
    let o = same(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
            "insp",
        ],
    );
    assert_eq!(stdout(&o), format!("member {ip}/28\n"));
    // The generic inspect finds networks too.
    same(
        &d,
        &["inspect", "-f", "{{json .IPAM}} {{.Created}}", "insp"],
    );
    same(&d, &["inspect", "--type", "network", "insp"]);

    // Unknown networks and bad templates.
    let o = same(&d, &["network", "inspect", "nope"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str(), stderr(&o).as_str()),
        (
            1,
            "[]\n",
            "Error response from daemon: network nope not found\n"
        )
    );
    let o = same(&d, &["network", "inspect", "insp", "nope"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("\"Name\": \"insp\""), "{}", stdout(&o));
    let o = same(&d, &["network", "inspect", "nope", "insp2"]);
    assert_eq!(code(&o), 1);
    let o = same(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{.Name}}",
            "nope",
            "insp",
            "nope2",
        ],
    );
    assert_eq!(stdout(&o), "insp\n");
    assert_eq!(
        stderr(&o),
        "Error response from daemon: network nope not found\n\
         Error response from daemon: network nope2 not found\n"
    );
    for format in ["{{.Nope}}", "{{.IPAM.Nope}}", "{{", "{{.Name"] {
        let o = same(&d, &["network", "inspect", "-f", format, "insp"]);
        assert_ne!(code(&o), 0, "{format}");
    }

    ok(&d, &["rm", "-f", "member"]);
    ok(&d, &["network", "rm", "insp", "insp2"]);
    assert_clean(&d);
}

#[test]
fn network_rm() {
    let d = started();
    let create = |names: &'static [&'static str]| {
        move |d: &TestDaemon| {
            for n in names {
                ok(d, &["network", "create", n]);
            }
        }
    };
    let o = same_after(&d, &["network", "rm", "gone"], create(&["gone"]), |_| {});
    assert_eq!(stdout(&o), "gone\n");
    assert!(!exists(&d, "gone"));
    let o = same_after(
        &d,
        &["network", "remove", "g1", "g2"],
        create(&["g1", "g2"]),
        |_| {},
    );
    assert_eq!(stdout(&o), "g1\ng2\n");
    // By ID.
    ok(&d, &["network", "create", "byid"]);
    let id = ok(&d, &["network", "inspect", "-f", "{{.Id}}", "byid"]);
    let o = d.berth(&["network", "rm", &id[..12]]);
    assert_eq!(stdout(&o), format!("{}\n", &id[..12]));

    let o = same(&d, &["network", "rm", "nope"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (
            1,
            "Error response from daemon: network nope not found\nexit status 1\n"
        )
    );
    let o = same(&d, &["network", "rm", "nope", "nope2"]);
    assert_eq!(code(&o), 1);
    let o = same(&d, &["network", "rm", "-f", "nope"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str(), stderr(&o).as_str()),
        (0, "", "")
    );
    // Known and unknown: the known one goes, the status is 1.
    let o = same_after(
        &d,
        &["network", "rm", "nope", "mixed"],
        create(&["mixed"]),
        |_| {},
    );
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "mixed\n");
    assert!(!exists(&d, "mixed"));
    let o = same(&d, &["network", "rm", "bridge"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("pre-defined network"), "{}", stderr(&o));

    // In use.
    ok(&d, &["network", "create", "busy"]);
    sleeper(&d, "user", &["--network", "busy"]);
    let o = same(&d, &["network", "rm", "busy"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("has active endpoints"),
        "{}",
        stderr(&o)
    );
    let o = same(&d, &["network", "rm", "-f", "busy"]);
    assert_eq!(code(&o), 1);
    assert!(exists(&d, "busy"));
    ok(&d, &["rm", "-f", "user"]);
    ok(&d, &["network", "rm", "busy"]);
    assert_clean(&d);
}

#[test]
fn network_connect_and_disconnect() {
    let d = started();
    let sub = block(&d, 0, 28);
    ok(&d, &["network", "create", "--subnet", &sub, "cn"]);
    sleeper(&d, "cc", &[]);
    ok(&d, &["create", "--name", "stopped", "busybox", "true"]);

    // Success prints nothing.
    let (o1, o2) = same_pair(
        &d,
        &["network", "connect", "cn", "cc"],
        &["network", "disconnect", "cn", "cc"],
    );
    for o in [o1, o2] {
        assert_eq!(
            (code(&o), stdout(&o).as_str(), stderr(&o).as_str()),
            (0, "", "")
        );
    }
    let ip = addr(&d, 9);
    let (o1, _) = same_pair(
        &d,
        &[
            "network", "connect", "--ip", &ip, "--alias", "web", "cn", "cc",
        ],
        &["network", "disconnect", "--force", "cn", "cc"],
    );
    assert_eq!(code(&o1), 0);
    same_pair(
        &d,
        &["network", "connect", "cn", "stopped"],
        &["network", "disconnect", "cn", "stopped"],
    );
    // What a connect does shows in inspect.
    ok(
        &d,
        &[
            "network", "connect", "--ip", &ip, "--alias", "web", "cn", "cc",
        ],
    );
    let o = same(
        &d,
        &[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
            "cn",
        ],
    );
    assert_eq!(stdout(&o), format!("cc {ip}/28\n"));
    let o = same(
        &d,
        &[
            "inspect",
            "-f",
            "{{range $n, $e := .NetworkSettings.Networks}}{{$n}} {{end}}",
            "cc",
        ],
    );
    assert_eq!(stdout(&o), "bridge cn \n");

    // Errors.
    let o = same(&d, &["network", "connect", "cn", "cc"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("already exists in network cn"),
        "{}",
        stderr(&o)
    );
    let o = same(&d, &["network", "connect", "cn", "nocontainer"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (
            1,
            "Error response from daemon: No such container: nocontainer\n"
        )
    );
    let o = same(&d, &["network", "connect", "nonet", "cc"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (1, "Error response from daemon: network nonet not found\n")
    );
    let o = same(
        &d,
        &["network", "connect", "--ip", "10.9.9.9", "cn", "stopped"],
    );
    assert_eq!(code(&o), 1);
    let o = same(
        &d,
        &["network", "connect", "--link", "a:b:c", "cn", "stopped"],
    );
    assert_eq!(code(&o), 125);
    let o = same(
        &d,
        &["network", "connect", "--gw-priority", "x", "cn", "stopped"],
    );
    assert_eq!(code(&o), 125);
    let o = same(&d, &["network", "connect", "host", "cc"]);
    assert_eq!(code(&o), 1);
    ok(&d, &["network", "disconnect", "cn", "cc"]);
    let o = same(&d, &["network", "disconnect", "cn", "cc"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("is not connected to network cn"),
        "{}",
        stderr(&o)
    );
    let o = same(&d, &["network", "disconnect", "cn", "nocontainer"]);
    assert_eq!(code(&o), 1);
    let o = same(&d, &["network", "disconnect", "nonet", "cc"]);
    assert_eq!(code(&o), 1);
    let o = same(&d, &["network", "disconnect", " ", "cc"]);
    assert_eq!(code(&o), 1);

    ok(&d, &["rm", "-f", "cc", "stopped"]);
    ok(&d, &["network", "rm", "cn"]);
    assert_clean(&d);
}

#[test]
fn network_prune() {
    let d = started();
    // Kept by every prune: a network in use.
    ok(&d, &["network", "create", "--label", "p=1", "used"]);
    sleeper(&d, "user", &["--network", "used"]);
    let create = |args: &'static [&'static str]| {
        move |d: &TestDaemon| {
            let mut full = vec!["network", "create"];
            full.extend_from_slice(args);
            ok(d, &full);
        }
    };
    ok(&d, &["network", "create", "--label", "keep=1", "kept"]);
    let o = same_after(
        &d,
        &["network", "prune", "-f", "--filter", "label=p=1"],
        create(&["--label", "p=1", "labelled"]),
        |_| {},
    );
    assert_eq!(stdout(&o), "Deleted Networks:\nlabelled\n\n");
    assert!(exists(&d, "kept") && exists(&d, "used"));
    let o = same_after(
        &d,
        &["network", "prune", "--force", "--filter", "label!=keep"],
        create(&["plain"]),
        |_| {},
    );
    assert_eq!(stdout(&o), "Deleted Networks:\nplain\n\n");
    let o = same(&d, &["network", "prune", "-f", "--filter", "label=nothing"]);
    assert_eq!((code(&o), stdout(&o).as_str()), (0, ""));
    let o = same(&d, &["network", "prune", "-f", "--filter", "bogus=1"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (1, "Error response from daemon: invalid filter 'bogus'\n")
    );
    let o = same(&d, &["network", "prune", "-f", "--filter", "noequals"]);
    assert_eq!(code(&o), 125);
    // Without a filter: every unused user network.
    let o = same_after(
        &d,
        &["network", "prune", "-f"],
        |_| {},
        |d| {
            if !exists(d, "kept") {
                ok(d, &["network", "create", "--label", "keep=1", "kept"]);
            }
        },
    );
    assert_eq!(stdout(&o), "Deleted Networks:\nkept\n\n");
    // (`kept` was made again after each run.)
    ok(&d, &["network", "rm", "kept"]);
    let o = same(&d, &["network", "prune", "-f"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str(), stderr(&o).as_str()),
        (0, "", "")
    );
    let o = same(&d, &["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(stdout(&o), "bridge\nhost\nnone\nused\n");

    ok(&d, &["rm", "-f", "user"]);
    ok(&d, &["network", "rm", "used"]);
    assert_clean(&d);
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn port_and_ps_ports() {
    let d = started();
    let fixed = free_port();
    let fixed_spec = format!("127.0.0.1:{fixed}:81");
    sleeper(
        &d,
        "web",
        &[
            "-p",
            "127.0.0.1::80",
            "-p",
            "127.0.0.1::53/udp",
            "-p",
            &fixed_spec,
            "--expose",
            "90",
            "--expose",
            "7000-7001",
        ],
    );
    sleeper(&d, "auto", &["-P", "--expose", "8080"]);
    sleeper(&d, "plain", &[]);

    let o = same(&d, &["port", "web"]);
    let lines: Vec<String> = stdout(&o).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("53/udp -> 127.0.0.1:"), "{lines:?}");
    assert!(lines[1].starts_with("80/tcp -> 127.0.0.1:"), "{lines:?}");
    assert_eq!(lines[2], format!("81/tcp -> 127.0.0.1:{fixed}"));
    let o = same(&d, &["port", "web", "81"]);
    assert_eq!(stdout(&o), format!("127.0.0.1:{fixed}\n"));
    same(&d, &["port", "web", "81/tcp"]);
    same(&d, &["port", "web", "80"]);
    let o = same(&d, &["port", "web", "53/udp"]);
    assert!(stdout(&o).starts_with("127.0.0.1:"), "{}", stdout(&o));
    same(&d, &["container", "port", "web", "53/udp"]);
    let o = same(&d, &["port", "auto"]);
    assert!(
        stdout(&o).starts_with("8080/tcp -> 0.0.0.0:"),
        "{}",
        stdout(&o)
    );
    same(&d, &["port", "auto", "8080"]);
    // A container without ports.
    let o = same(&d, &["port", "plain"]);
    assert_eq!(
        (code(&o), stdout(&o).as_str(), stderr(&o).as_str()),
        (0, "", "")
    );

    // Errors: not published (tcp by default), only exposed, not a port, unknown container.
    for (port, why) in [
        ("53", "Error: No public port '53' published for web\n"),
        ("9999", "Error: No public port '9999' published for web\n"),
        ("90", "Error: No public port '90' published for web\n"),
        ("80/udp", "Error: No public port '80/udp' published for web\n"),
        ("80/icmp", "Error: No public port '80/icmp' published for web\n"),
        (
            "abc",
            "Error: invalid port (abc): strconv.ParseUint: parsing \"abc\": invalid syntax\n",
        ),
        (
            "99999",
            "Error: invalid port (99999): strconv.ParseUint: parsing \"99999\": value out of range\n",
        ),
        (
            "/udp",
            "Error: invalid port (): strconv.ParseUint: parsing \"\": invalid syntax\n",
        ),
    ] {
        let o = same(&d, &["port", "web", port]);
        assert_eq!((code(&o), stderr(&o).as_str()), (1, why), "port web {port}");
    }
    let o = same(&d, &["port", "plain", "80"]);
    assert_eq!(code(&o), 1);
    let o = same(&d, &["port", "nope"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (1, "Error response from daemon: No such container: nope\n")
    );

    // ps: the PORTS column.
    let o = same_eventually(&d, &["ps", "--format", "{{.Names}} {{.Ports}}"]);
    let ps = stdout(&o);
    assert!(
        ps.contains(&format!("127.0.0.1:{fixed}->81/tcp")) && ps.contains("90/tcp"),
        "{ps}"
    );
    assert!(ps.contains("7000-7001/tcp"), "{ps}");
    assert!(ps.contains("plain \n"), "{ps}");
    same_eventually(&d, &["ps"]);
    same_eventually(&d, &["ps", "--no-trunc"]);
    same_eventually(
        &d,
        &["ps", "-a", "--format", "table {{.Names}}\t{{.Ports}}"],
    );
    same_eventually(&d, &["ps", "--format", "{{json .Ports}}", "-f", "name=web"]);
    same_eventually(&d, &["ps", "-f", "publish=81", "--format", "{{.Names}}"]);
    same_eventually(&d, &["ps", "-f", "expose=90", "--format", "{{.Names}}"]);

    ok(&d, &["rm", "-f", "web", "auto", "plain"]);
    assert_clean(&d);
}

#[test]
fn run_network_errors() {
    let d = started();
    let o = same(&d, &["run", "--rm", "-p", "99999:80", "busybox", "true"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (
            125,
            "berth: invalid hostPort: 99999\n\nRun 'berth run --help' for more information\n"
        )
    );
    let o = same(&d, &["run", "--rm", "-p", "80/icmp", "busybox", "true"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (
            125,
            "berth: invalid proto: icmp\n\nRun 'berth run --help' for more information\n"
        )
    );
    for spec in [
        "a:b",
        "127.0.0.1:80:80:80",
        "80-70:80",
        "80-82:90-91",
        "99999",
    ] {
        let o = same(&d, &["run", "--rm", "-p", spec, "busybox", "true"]);
        assert_eq!(code(&o), 125, "-p {spec}");
    }
    let o = same(&d, &["run", "--rm", "--network", "nope", "busybox", "true"]);
    assert_eq!(
        (code(&o), stderr(&o).as_str()),
        (
            125,
            "berth: Error response from daemon: network nope not found\n\n\
             Run 'berth run --help' for more information\n"
        )
    );
    let ip = d.subnet.replace(".0/24", ".200");
    let o = same(&d, &["run", "--rm", "--ip", &ip, "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("user specified IP address is supported on user defined networks only"),
        "{}",
        stderr(&o)
    );
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            "bridge",
            "--ip",
            &ip,
            "busybox",
            "true",
        ],
    );
    assert_eq!(code(&o), 125);
    let o = same(&d, &["create", "--ip", &ip, "busybox", "true"]);
    assert_eq!(code(&o), 1);
    // On a user network, --ip must be in its subnet.
    ok(
        &d,
        &["network", "create", "--subnet", &block(&d, 0, 28), "user"],
    );
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            "user",
            "--ip",
            "10.9.9.9",
            "busybox",
            "true",
        ],
    );
    assert_eq!(code(&o), 125);
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            "user",
            "--network-alias",
            "x",
            "--ip",
            &addr(&d, 4),
            "busybox",
            "true",
        ],
    );
    assert_eq!((code(&o), stdout(&o).as_str()), (0, ""));
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            "bridge",
            "--network",
            "user",
            "busybox",
            "true",
        ],
    );
    assert_eq!(code(&o), 125);
    let o = same(
        &d,
        &["run", "--rm", "--network-alias", "x", "busybox", "true"],
    );
    assert_eq!(code(&o), 125);
    ok(&d, &["network", "rm", "user"]);
    assert_clean(&d);
}
