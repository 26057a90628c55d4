use super::*;
use crate::flags::{Args, Spec};
use serde_json::json;

fn req(args: &str, detached: bool) -> Result<CreateReq, String> {
    let mut flags = create_flags();
    flags.push(b("detach", Some('d'), "detach"));
    let spec = Spec::new("run", "run", "run", flags)
        .stop()
        .args(Args::Min(1));
    let argv: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let m = spec.parse(&argv).map_err(|e| format!("{e:?}"))?;
    build(&m, detached)
}

#[test]
fn ports() {
    let r = req(
        "-p 8080:80 -p 127.0.0.1:5353:53/udp -p 9000 -p 7000-7001:7000-7001 busybox",
        true,
    )
    .unwrap();
    let b = &r.body;
    assert_eq!(b["ExposedPorts"]["80/tcp"], json!({}));
    assert_eq!(b["ExposedPorts"]["53/udp"], json!({}));
    assert_eq!(
        b["HostConfig"]["PortBindings"]["80/tcp"],
        json!([{"HostIp": "", "HostPort": "8080"}])
    );
    assert_eq!(
        b["HostConfig"]["PortBindings"]["53/udp"],
        json!([{"HostIp": "127.0.0.1", "HostPort": "5353"}])
    );
    assert_eq!(
        b["HostConfig"]["PortBindings"]["9000/tcp"],
        json!([{"HostIp": "", "HostPort": ""}])
    );
    assert_eq!(
        b["HostConfig"]["PortBindings"]["7001/tcp"],
        json!([{"HostIp": "", "HostPort": "7001"}])
    );
    let r = req("-p [::1]:80:80 --expose 90-91 busybox", true).unwrap();
    assert_eq!(
        r.body["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"],
        "::1"
    );
    assert_eq!(r.body["ExposedPorts"]["91/tcp"], json!({}));
    assert!(req("-p 80:abc busybox", true)
        .unwrap_err()
        .contains("invalid containerPort: abc"));
    assert!(req("-p 80:80/xyz busybox", true)
        .unwrap_err()
        .contains("invalid proto: xyz"));
}

#[test]
fn volumes_mounts_tmpfs() {
    let r = req("-v /host:/ctr:ro -v /anon -v data:/data --mount type=bind,source=/a,target=/b,readonly --tmpfs /run:rw,size=64m busybox", true).unwrap();
    let b = &r.body;
    assert_eq!(
        b["HostConfig"]["Binds"],
        json!(["/host:/ctr:ro", "data:/data"])
    );
    assert_eq!(b["Volumes"], json!({"/anon": {}}));
    assert_eq!(
        b["HostConfig"]["Mounts"],
        json!([{"Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": true}])
    );
    assert_eq!(b["HostConfig"]["Tmpfs"], json!({"/run": "rw,size=64m"}));
    let r = req("--mount type=tmpfs,dst=/t,tmpfs-size=1m busybox", true).unwrap();
    assert_eq!(
        r.body["HostConfig"]["Mounts"][0]["TmpfsOptions"]["SizeBytes"],
        1 << 20
    );
    assert!(req("-v rel busybox", true).is_err());
    assert!(req("--mount type=bind,source=/a busybox", true)
        .unwrap_err()
        .contains("target is required"));
}

#[test]
fn env_and_labels() {
    std::env::set_var("BERTH_TEST_ENV_X", "from-env");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("env");
    std::fs::write(&f, "# comment\nA=1\n\n  B=two words\n").unwrap();
    let r = req(
        &format!(
            "--env-file {} -e C=3 -e BERTH_TEST_ENV_X -e BERTH_TEST_UNSET_Y -l a=b -l flag busybox",
            f.display()
        ),
        true,
    )
    .unwrap();
    assert_eq!(
        r.body["Env"],
        json!([
            "A=1",
            "B=two words",
            "C=3",
            "BERTH_TEST_ENV_X=from-env",
            "BERTH_TEST_UNSET_Y"
        ])
    );
    assert_eq!(r.body["Labels"], json!({"a": "b", "flag": ""}));
}

#[test]
fn resources_and_policies() {
    let r = req("-m 32m --memory-swap -1 --cpus 1.5 --shm-size 64m --restart on-failure:3 --ulimit nofile=1024:2048 --pids-limit 100 busybox", true).unwrap();
    let h = &r.body["HostConfig"];
    assert_eq!(h["Memory"], 32 << 20);
    assert_eq!(h["MemorySwap"], -1);
    assert_eq!(h["NanoCpus"], 1_500_000_000i64);
    assert_eq!(h["ShmSize"], 64 << 20);
    assert_eq!(
        h["RestartPolicy"],
        json!({"Name": "on-failure", "MaximumRetryCount": 3})
    );
    assert_eq!(
        h["Ulimits"],
        json!([{"Name": "nofile", "Soft": 1024, "Hard": 2048}])
    );
    assert_eq!(h["PidsLimit"], 100);
    assert!(req("-m lots busybox", true)
        .unwrap_err()
        .contains("invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"));
    assert!(req("--rm --restart always busybox", true)
        .unwrap_err()
        .contains("--restart and --rm"));
    // Names are the daemon's to check (as docker's CLI); the format is the CLI's.
    assert!(req("--restart sometimes busybox", true).is_ok());
    assert!(req("--restart :3 busybox", true).is_err());
    assert!(req("--restart on-failure:x busybox", true).is_err());
}

#[test]
fn attach_and_command() {
    let r = req("-it --name web busybox sh -c ls", false).unwrap();
    let b = &r.body;
    assert_eq!(r.name, "web");
    assert_eq!(b["Cmd"], json!(["sh", "-c", "ls"]));
    assert_eq!(b["Image"], "busybox");
    assert_eq!(
        (
            b["AttachStdin"].clone(),
            b["OpenStdin"].clone(),
            b["StdinOnce"].clone(),
            b["Tty"].clone()
        ),
        (json!(true), json!(true), json!(true), json!(true))
    );
    let r = req("-d busybox", true).unwrap();
    assert_eq!(r.body["AttachStdout"], false);
    assert_eq!(r.body["Cmd"], Value::Null);
    let r = req("-a stdout busybox", false).unwrap();
    assert_eq!(
        (
            r.body["AttachStdout"].clone(),
            r.body["AttachStderr"].clone()
        ),
        (json!(true), json!(false))
    );
    let r = req("--entrypoint= -w /tmp -u 1000:1000 -h box --privileged --read-only --init --net host --cap-add NET_ADMIN --dns 1.1.1.1 --add-host db:10.0.0.2 busybox", true).unwrap();
    let b = &r.body;
    assert_eq!(b["Entrypoint"], json!([""]));
    assert_eq!(b["WorkingDir"], "/tmp");
    assert_eq!(b["User"], "1000:1000");
    assert_eq!(b["Hostname"], "box");
    assert_eq!(b["HostConfig"]["Privileged"], true);
    assert_eq!(b["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(b["HostConfig"]["Init"], true);
    assert_eq!(b["HostConfig"]["NetworkMode"], "host");
    assert_eq!(b["HostConfig"]["CapAdd"], json!(["NET_ADMIN"]));
    assert_eq!(b["HostConfig"]["Dns"], json!(["1.1.1.1"]));
    assert_eq!(b["HostConfig"]["ExtraHosts"], json!(["db:10.0.0.2"]));
}

#[test]
fn log_and_health() {
    let r = req("--log-driver json-file --log-opt max-size=10m --health-cmd true --health-interval 5s --stop-signal SIGINT --stop-timeout 3 busybox", true).unwrap();
    let b = &r.body;
    assert_eq!(
        b["HostConfig"]["LogConfig"],
        json!({"Type": "json-file", "Config": {"max-size": "10m"}})
    );
    assert_eq!(b["Healthcheck"]["Test"], json!(["CMD-SHELL", "true"]));
    assert_eq!(b["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert_eq!(b["StopSignal"], "SIGINT");
    assert_eq!(b["StopTimeout"], 3);
}

#[test]
fn health_start_interval_and_on_failure() {
    let r = req(
        "--health-cmd true --health-start-interval 500ms --health-on-failure restart busybox",
        true,
    )
    .unwrap();
    let b = &r.body;
    assert_eq!(b["Healthcheck"]["StartInterval"], 500_000_000i64);
    assert_eq!(b["Labels"]["berth.health-on-failure"], "restart");
}

fn endpoints(args: &str) -> Result<(Value, Value), String> {
    let r = req(args, true)?;
    Ok((
        r.body["HostConfig"]["NetworkMode"].clone(),
        r.body["NetworkingConfig"]["EndpointsConfig"].clone(),
    ))
}

fn zero_endpoint() -> Value {
    json!({
        "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "", "DriverOpts": null,
        "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
        "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "DNSNames": null,
    })
}

#[test]
fn networking_config_like_docker() {
    // No --network: docker always sends a "default" endpoint.
    let (mode, eps) = endpoints("busybox").unwrap();
    assert_eq!(mode, "default");
    assert_eq!(eps, json!({"default": zero_endpoint()}));
    let (_, eps) = endpoints("--ip 10.0.0.2 busybox").unwrap();
    assert_eq!(
        eps["default"]["IPAMConfig"],
        json!({"IPv4Address": "10.0.0.2"})
    );
    // One network without options: no endpoint settings at all.
    let (mode, eps) = endpoints("--network mynet busybox").unwrap();
    assert_eq!((mode, eps), (json!("mynet"), json!({})));
    let (mode, eps) = endpoints("--net host busybox").unwrap();
    assert_eq!((mode, eps), (json!("host"), json!({})));

    let r = req("--network mynet --ip 10.0.0.2 --ip6 2001:db8::2 --mac-address 02:42:ac:11:00:02 --link-local-ip 169.254.0.5 --network-alias a --link l1:al busybox", true).unwrap();
    assert_eq!(r.body["HostConfig"]["Links"], json!(["l1:al"]));
    let ep = &r.body["NetworkingConfig"]["EndpointsConfig"]["mynet"];
    assert_eq!(
        ep["IPAMConfig"],
        json!({"IPv4Address": "10.0.0.2", "IPv6Address": "2001:db8::2", "LinkLocalIPs": ["169.254.0.5"]})
    );
    assert_eq!(ep["Links"], json!(["l1:al"]));
    assert_eq!(ep["Aliases"], json!(["a"]));
    assert_eq!(ep["MacAddress"], "02:42:ac:11:00:02");

    // On the default bridge a link stays a legacy link only.
    let (_, eps) =
        endpoints("--network bridge --link l1:al --mac-address 02:42:ac:11:00:02 busybox").unwrap();
    assert_eq!(eps["bridge"]["Links"], Value::Null);
    assert_eq!(eps["bridge"]["MacAddress"], "02:42:ac:11:00:02");

    // docker 28's advanced syntax, and several networks.
    let (mode, eps) = endpoints(
        "--network name=mynet,alias=a1,alias=a2,ip=10.0.0.3,driver-opt=k=v,gw-priority=3 busybox",
    )
    .unwrap();
    assert_eq!(mode, "mynet");
    assert_eq!(eps["mynet"]["Aliases"], json!(["a1", "a2"]));
    assert_eq!(eps["mynet"]["DriverOpts"], json!({"k": "v"}));
    assert_eq!(eps["mynet"]["GwPriority"], 3);
    let (mode, eps) = endpoints("--network mynet --network other busybox").unwrap();
    assert_eq!(mode, "mynet");
    assert_eq!(
        eps,
        json!({"mynet": zero_endpoint(), "other": zero_endpoint()})
    );
}

#[test]
fn networking_errors_like_docker() {
    let e = |a: &str| req(a, true).unwrap_err();
    assert_eq!(
        e("--network-alias x busybox"),
        "network-scoped aliases are only supported for user-defined networks"
    );
    assert_eq!(
        e("--network host --network other busybox"),
        "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
    );
    assert_eq!(
        e("--network mynet --network mynet busybox"),
        "network \"mynet\" is specified multiple times"
    );
    assert_eq!(
        e("--network name=n,bogus=1 busybox"),
        "invalid argument \"name=n,bogus=1\" for \"--network\" flag: invalid field key bogus"
    );
    assert_eq!(
        e("--mac-address zz busybox"),
        "zz is not a valid mac address"
    );
    assert_eq!(
        e("--network name=n,alias=a --network-alias b busybox"),
        "conflicting options: cannot specify both --network-alias and per-network alias"
    );
    assert_eq!(
        e("--link a:b:c busybox"),
        "invalid argument \"a:b:c\" for \"--link\" flag: bad format for links: a:b:c"
    );
}
