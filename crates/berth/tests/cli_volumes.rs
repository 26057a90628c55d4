//! The berth CLI's volume commands and mount flags end to end against a real daemon,
//! compared with the official docker CLI talking to the same daemon.

mod common;

use common::compare::{code, ok, same, started};
use common::{stderr, stdout};

#[test]
fn volume_create_ls_inspect_rm() {
    let d = started();
    assert_eq!(ok(&d, &["volume", "create", "v1"]), "v1\n");
    assert_eq!(
        ok(&d, &["volume", "create", "--label", "x=y", "v2"]),
        "v2\n"
    );
    let anon = ok(&d, &["volume", "create"]);
    assert_eq!(anon.trim().len(), 64, "{anon}");
    let o = same(&d, &["volume", "ls"]);
    assert_eq!(
        stdout(&o),
        format!(
            "DRIVER    VOLUME NAME\nlocal     {}\nlocal     v1\nlocal     v2\n",
            anon.trim()
        )
    );
    same(&d, &["volume", "list"]);
    let o = same(&d, &["volume", "ls", "-q", "-f", "name=v"]);
    assert_eq!(stdout(&o), "v1\nv2\n");
    let o = same(&d, &["volume", "ls", "-f", "label=x=y"]);
    assert_eq!(stdout(&o), "DRIVER    VOLUME NAME\nlocal     v2\n");
    let o = same(&d, &["volume", "ls", "-f", "label=x"]);
    assert_eq!(stdout(&o), "DRIVER    VOLUME NAME\nlocal     v2\n");
    let o = same(&d, &["volume", "ls", "-f", "dangling=true", "-q"]);
    assert_eq!(stdout(&o).lines().count(), 3);
    let o = same(
        &d,
        &[
            "volume",
            "ls",
            "--format",
            "{{.Name}}:{{.Driver}}:{{.Labels}}",
            "-f",
            "name=v2",
        ],
    );
    assert_eq!(stdout(&o), "v2:local:x=y\n");
    let o = same(
        &d,
        &[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Scope}}",
            "-f",
            "name=v1",
        ],
    );
    assert_eq!(stdout(&o), "VOLUME NAME   SCOPE\nv1            local\n");
    let o = same(&d, &["volume", "inspect", "v1"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["Name"], "v1");
    assert_eq!(v[0]["Driver"], "local");
    assert!(
        stdout(&o).starts_with("[\n    {\n        \"CreatedAt\": "),
        "{}",
        stdout(&o)
    );
    let o = same(
        &d,
        &[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{json .Labels}}",
            "v2",
        ],
    );
    assert_eq!(stdout(&o), "v2 local {\"x\":\"y\"}\n");
    let o = same(&d, &["volume", "inspect", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "[]\n");
    assert_eq!(
        stderr(&o),
        "Error response from daemon: get nosuch: no such volume\n"
    );
    let o = same(&d, &["volume", "rm", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: get nosuch: no such volume\n"
    );
    let o = d.berth(&["volume", "remove", "v1", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "v1\n");
    assert_eq!(
        stderr(&o),
        "Error response from daemon: get nosuch: no such volume\n"
    );
    assert_eq!(
        ok(&d, &["volume", "rm", "v2", anon.trim()]),
        format!("v2\n{anon}")
    );
    let o = same(&d, &["volume", "ls", "-q"]);
    assert_eq!(stdout(&o), "");
    let o = same(&d, &["volume", "ls", "--format", "{{.Nope"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "template parsing error: template: :1: unclosed action\n"
    );
}

#[test]
fn volume_in_use_and_prune() {
    let d = started();
    ok(&d, &["volume", "create", "named"]);
    ok(&d, &["volume", "create", "--label", "keep=1", "kept"]);
    ok(
        &d,
        &[
            "create",
            "--name",
            "user",
            "-v",
            "named:/data",
            "busybox",
            "true",
        ],
    );
    let o = same(&d, &["volume", "rm", "named"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("volume is in use"), "{}", stderr(&o));
    let o = same(&d, &["volume", "ls", "-q", "-f", "dangling=false"]);
    assert_eq!(stdout(&o), "named\n");
    // An anonymous volume of a removed container is what plain prune removes.
    ok(
        &d,
        &["run", "--name", "anon", "-v", "/scratch", "busybox", "true"],
    );
    let anon = ok(
        &d,
        &["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon"],
    );
    assert_eq!(anon.trim().len(), 64, "{anon}");
    ok(&d, &["rm", "anon"]);
    let o = ok(&d, &["volume", "prune", "-f"]);
    assert_eq!(
        o,
        format!("Deleted Volumes:\n{anon}\nTotal reclaimed space: 0B\n")
    );
    let o = same(&d, &["volume", "prune", "-f"]);
    assert_eq!(stdout(&o), "Total reclaimed space: 0B\n");
    // -a takes named ones too, but not those in use.
    let o = ok(&d, &["volume", "prune", "-a", "-f"]);
    assert_eq!(o, "Deleted Volumes:\nkept\n\nTotal reclaimed space: 0B\n");
    ok(&d, &["rm", "user"]);
    let o = ok(&d, &["volume", "prune", "--all", "--force"]);
    assert_eq!(o, "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n");
    let o = same(&d, &["volume", "ls", "-q"]);
    assert_eq!(stdout(&o), "");
}

#[test]
fn volume_prune_label_not_filter() {
    let d = started();
    ok(&d, &["volume", "create", "--label", "keep=1", "kept"]);
    ok(&d, &["volume", "create", "gone"]);
    let o = ok(
        &d,
        &["volume", "prune", "-a", "-f", "--filter", "label!=keep"],
    );
    assert_eq!(o, "Deleted Volumes:\ngone\n\nTotal reclaimed space: 0B\n");
}

#[test]
fn named_volume_and_bind_mount() {
    let d = started();
    let o = ok(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo hi > /data/f; cat /data/f",
        ],
    );
    assert_eq!(o, "hi\n");
    let o = ok(
        &d,
        &[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=data,dst=/d",
            "busybox",
            "cat",
            "/d/f",
        ],
    );
    assert_eq!(o, "hi\n");
    let o = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=data,target=/d,readonly",
        "busybox",
        "touch",
        "/d/x",
    ]);
    assert_eq!(code(&o), 1);
    let o = d.berth(&[
        "run",
        "--rm",
        "-v",
        "data:/d:ro",
        "busybox",
        "touch",
        "/d/x",
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
    let mp = ok(&d, &["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]);
    assert_eq!(
        std::fs::read_to_string(format!("{}/f", mp.trim())).unwrap(),
        "hi\n"
    );

    let host = d.dir.join("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "bound\n").unwrap();
    let h = host.to_str().unwrap();
    let o = ok(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            &format!("{h}:/b"),
            "busybox",
            "sh",
            "-c",
            "cat /b/in; echo back > /b/out",
        ],
    );
    assert_eq!(o, "bound\n");
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "back\n");
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            &format!("{h}:/b:ro"),
            "busybox",
            "touch",
            "/b/x",
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(stderr(&o), "touch: /b/x: Read-only file system\n");
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--mount",
            &format!("type=bind,src={h},dst=/x,readonly"),
            "busybox",
            "cat",
            "/x/in",
        ],
    );
    assert_eq!(stdout(&o), "bound\n");
    ok(
        &d,
        &[
            "create",
            "--name",
            "mm",
            "-v",
            &format!("{h}:/b"),
            "-v",
            "data:/data",
            "busybox",
            "true",
        ],
    );
    let o = same(
        &d,
        &[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}};{{end}}",
            "mm",
        ],
    );
    assert_eq!(stdout(&o), "bind /b true;volume /data true;\n");
}

#[test]
fn tmpfs_mounts() {
    let d = started();
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--tmpfs",
            "/t:size=1m",
            "busybox",
            "sh",
            "-c",
            "grep ' /t ' /proc/mounts",
        ],
    );
    assert!(
        stdout(&o).starts_with("tmpfs /t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k"),
        "{}",
        stdout(&o)
    );
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,dst=/t2,tmpfs-size=2m",
            "busybox",
            "sh",
            "-c",
            "grep ' /t2 ' /proc/mounts",
        ],
    );
    assert!(stdout(&o).contains("size=2048k"), "{}", stdout(&o));
}

#[test]
fn volumes_from() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "src",
            "-v",
            "shared:/shared",
            "-v",
            "/anon",
            "busybox",
            "sh",
            "-c",
            "echo s > /shared/f; echo a > /anon/g",
        ],
    );
    let o = ok(
        &d,
        &[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "busybox",
            "sh",
            "-c",
            "cat /shared/f /anon/g",
        ],
    );
    assert_eq!(o, "s\na\n");
    let o = d.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "touch",
        "/shared/x",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("Read-only"), "{}", stderr(&o));
    // (docker's CLI takes the daemon's 404 here for a missing image and tries a pull.)
    let o = d.berth(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    assert_eq!(code(&o), 125);
}

#[test]
fn bad_mount_specs() {
    let d = started();
    let o = same(&d, &["run", "--rm", "-v", ":/x", "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert_eq!(
        stderr(&o),
        "berth: invalid spec: :/x: empty section between colons\n\nRun 'berth run --help' for more information\n"
    );
    // docker leaves the type to the daemon; berth rejects it itself, with the same status.
    let o = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=bogus,dst=/x",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&o), 125);
    let o = d.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,dst=/x",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&o), 125);
    // (`--mount src=/tmp`: docker reports it as a flag error with usage; not yet berth.)
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "-v",
            "/nonexistent/dir:/x",
            "busybox",
            "true",
        ],
    );
    assert_eq!(code(&o), 0);
    let o = same(
        &d,
        &[
            "run",
            "--rm",
            "--mount",
            "type=bind,src=/nonexistent/dir,dst=/x",
            "busybox",
            "true",
        ],
    );
    // Same answer from both CLIs; dockerd itself would refuse this with 125, see
    // bind_mount_of_missing_source_is_refused.
    let _ = o;
}

#[test]
fn bind_mount_of_missing_source_is_refused() {
    let d = started();
    let missing = format!("type=bind,src={}/no/such/dir,dst=/x", d.dir.display());
    let o = d.berth(&["run", "--rm", "--mount", &missing, "busybox", "true"]);
    assert_eq!(code(&o), 125);
    assert!(
        stderr(&o).contains("bind source path does not exist"),
        "{}",
        stderr(&o)
    );
}
