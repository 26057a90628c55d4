//! The berth CLI's image commands end to end against a real daemon, compared with the
//! official docker CLI talking to the same daemon: output, errors and exit codes.

mod common;

use std::process::{Command, Output, Stdio};

use common::compare::{code, norm, ok, same, same_eventually, started, view};
use common::{assert_ok, stderr, stdout};

fn with_stdin(mut c: Command, input: &[u8]) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut w = child.stdin.take().unwrap();
    let data = input.to_vec();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        let _ = w.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    let _ = t.join();
    o
}

#[test]
fn images_listing_flags_and_formats() {
    let d = started();
    ok(&d, &["tag", "busybox", "foo:1"]);
    ok(&d, &["tag", "busybox:latest", "example.com/team/foo:2"]);
    let o = same_eventually(&d, &["images"]);
    let text = stdout(&o);
    assert!(
        text.starts_with("REPOSITORY             TAG       IMAGE ID       CREATED"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 4);
    same_eventually(&d, &["image", "ls"]);
    same_eventually(&d, &["image", "list", "-a"]);
    let o = same(&d, &["images", "-q"]);
    assert_eq!(stdout(&o).lines().count(), 3);
    assert!(stdout(&o).lines().all(|l| l.len() == 12));
    let o = same(&d, &["images", "-q", "--no-trunc"]);
    assert!(stdout(&o)
        .lines()
        .all(|l| l.starts_with("sha256:") && l.len() == 71));
    same_eventually(&d, &["images", "--digests"]);
    let o = same(&d, &["images", "-f", "dangling=true"]);
    assert_eq!(
        stdout(&o),
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    );
    let o = same(
        &d,
        &[
            "images",
            "-f",
            "reference=foo",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
    );
    assert_eq!(stdout(&o), "foo:1\n");
    let o = same(
        &d,
        &[
            "images",
            "-f",
            "reference=busy*",
            "--format",
            "{{.Repository}}",
        ],
    );
    assert_eq!(stdout(&o), "busybox\n");
    let o = same(
        &d,
        &[
            "images",
            "busybox",
            "--format",
            "{{.Repository}} {{.Tag}} {{.Size}}",
        ],
    );
    assert_eq!(stdout(&o), "busybox latest 1.98MB\n");
    // Rows of one image come in the daemon's RepoTags order in docker; berth sorts them.
    let o = d.berth(&["images", "--format", "table {{.Repository}}\t{{.Tag}}"]);
    let mut lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "REPOSITORY             TAG",
            "busybox                latest",
            "example.com/team/foo   2",
            "foo                    1"
        ]
    );
    let o = same(&d, &["images", "--format", "{{json .Repository}}", "foo"]);
    assert_eq!(stdout(&o), "\"foo\"\n");
    let o = same(&d, &["images", "-f", "nope=1"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("invalid filter"), "{}", stderr(&o));
}

#[test]
fn images_bad_templates() {
    let d = started();
    let o = same(&d, &["images", "--format", "{{.Nope"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "template parsing error: template: :1: unclosed action\n"
    );
    let o = same(&d, &["images", "--format", "{{.Nope}}"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext\n"
    );
}

#[test]
fn tag_and_rmi_both_forms() {
    let d = started();
    assert_eq!(ok(&d, &["tag", "busybox", "a:1"]), "");
    assert_eq!(ok(&d, &["image", "tag", "busybox", "b:1"]), "");
    let o = same(&d, &["tag", "nosuch", "x:1"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such image: nosuch:latest\n"
    );
    let o = same(&d, &["tag", "busybox", "BAD:ref!"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("invalid reference format"),
        "{}",
        stderr(&o)
    );
    assert_eq!(ok(&d, &["rmi", "a:1"]), "Untagged: a:1\n");
    assert_eq!(ok(&d, &["image", "rm", "b:1"]), "Untagged: b:1\n");
    let o = same(&d, &["rmi", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such image: nosuch:latest\n"
    );
    let o = same(&d, &["image", "remove", "nosuch"]);
    assert_eq!(code(&o), 1);
    // -f turns "no such image" into a message with success.
    let o = same(&d, &["rmi", "-f", "nosuch"]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such image: nosuch:latest\n"
    );
    // An image used by a container needs -f.
    ok(&d, &["create", "--name", "user", "busybox", "true"]);
    let o = same(&d, &["rmi", "busybox"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("(must force) - container "),
        "{}",
        stderr(&o)
    );
    let id = ok(&d, &["images", "-q", "--no-trunc", "busybox"]);
    let o = ok(&d, &["rmi", "-f", "busybox"]);
    assert!(o.starts_with("Untagged: busybox:latest\n"), "{o}");
    let _ = id;
}

#[test]
fn rmi_force_of_an_image_in_use_deletes_it_and_the_container_still_runs() {
    // As dockerd 20.10 answers (checked side by side): the image record goes, the layers
    // stay held for the container.
    let d = started();
    ok(
        &d,
        &["create", "--name", "user", "busybox", "echo", "still here"],
    );
    let id = ok(&d, &["images", "-q", "--no-trunc", "busybox"]);
    assert_eq!(
        ok(&d, &["rmi", "-f", "busybox"]),
        format!("Untagged: busybox:latest\nDeleted: {id}")
    );
    assert_eq!(ok(&d, &["images", "-q", "-a"]), "");
    assert_eq!(ok(&d, &["start", "-a", "user"]), "still here\n");
    ok(&d, &["rm", "user"]);
}

#[test]
fn rmi_force_of_parent_image_untags() {
    let d = started();
    ok(&d, &["run", "--name", "cc", "busybox", "touch", "/x"]);
    ok(&d, &["commit", "cc", "child:1"]);
    let o = d.berth(&["rmi", "-f", "busybox"]);
    assert_eq!(
        view(&o),
        (0, "Untagged: busybox:latest\n".into(), "".into())
    );
}

#[test]
fn history_and_image_inspect() {
    let d = started();
    let o = same_eventually(&d, &["history", "busybox"]);
    let text = stdout(&o);
    assert!(
        text.starts_with("IMAGE          CREATED          CREATED BY   SIZE      COMMENT\n")
            || text.starts_with("IMAGE          CREATED"),
        "{text}"
    );
    same_eventually(&d, &["image", "history", "--no-trunc", "busybox"]);
    let o = same(
        &d,
        &["history", "--format", "{{.Size}} {{.Comment}}", "busybox"],
    );
    assert!(stdout(&o).starts_with("1.98MB "), "{}", stdout(&o));
    let o = same(&d, &["history", "-q", "busybox"]);
    assert_eq!(stdout(&o).lines().count(), 1);
    let o = same(&d, &["history", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such image: nosuch:latest\n"
    );
    let o = same(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{.Os}} {{.Architecture}}",
            "busybox",
        ],
    );
    assert_eq!(stdout(&o), "linux amd64\n");
    let o = same(
        &d,
        &["image", "inspect", "-f", "{{json .RepoTags}}", "busybox"],
    );
    assert_eq!(stdout(&o), "[\"busybox:latest\"]\n");
    same(&d, &["image", "inspect", "busybox"]);
    same(
        &d,
        &["inspect", "--type", "image", "-f", "{{.Id}}", "busybox"],
    );
    let o = same(&d, &["image", "inspect", "nosuch"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "[]\n");
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such image: nosuch:latest\n"
    );
}

#[test]
fn image_prune() {
    let d = started();
    let o = same(&d, &["image", "prune", "-f"]);
    assert_eq!(stdout(&o), "Total reclaimed space: 0B\n");
    ok(&d, &["tag", "busybox", "other:1"]);
    ok(&d, &["rmi", "busybox"]);
    // All images unused by a container go with -a.
    let o = ok(&d, &["image", "prune", "-a", "-f"]);
    assert!(
        o.starts_with("Deleted Images:\nuntagged: other:1\ndeleted: sha256:"),
        "{o}"
    );
    assert!(o.contains("\nTotal reclaimed space: "), "{o}");
    let o = same(&d, &["images", "-q"]);
    assert_eq!(stdout(&o), "");
}

#[test]
fn save_load_round_trip() {
    let d = started();
    ok(&d, &["tag", "busybox", "second:1"]);
    let tar = d.dir.join("save.tar");
    assert_eq!(
        ok(
            &d,
            &["save", "-o", tar.to_str().unwrap(), "busybox", "second:1"]
        ),
        ""
    );
    let list = stdout(&Command::new("tar").arg("-tf").arg(&tar).output().unwrap());
    assert!(list.lines().any(|l| l == "manifest.json"), "{list}");
    let streamed = d.berth(&["save", "busybox"]);
    assert_ok(&streamed, "save to stdout");
    assert!(streamed.stdout.len() > 1_000_000);
    let o = same(
        &d,
        &[
            "save",
            "nosuch",
            "-o",
            d.dir.join("x.tar").to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such image: nosuch:latest\n"
    );

    ok(&d, &["rmi", "busybox", "second:1"]);
    let o = ok(&d, &["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(o, "Loaded image: busybox:latest\nLoaded image: second:1\n");
    let o = same(&d, &["load", "-q", "-i", tar.to_str().unwrap()]);
    assert_eq!(
        stdout(&o),
        "Loaded image: busybox:latest\nLoaded image: second:1\n"
    );
    ok(&d, &["rmi", "second:1"]);
    let o = with_stdin(d.berth_cmd(&["image", "load"]), &streamed.stdout);
    assert_ok(&o, "load from stdin");
    assert_eq!(stdout(&o), "Loaded image: busybox:latest\n");
    let o = ok(&d, &["run", "--rm", "busybox", "echo", "loaded"]);
    assert_eq!(o, "loaded\n");
    let o = same(&d, &["load", "-i", "/nonexistent.tar"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "open /nonexistent.tar: no such file or directory\n"
    );
}

#[test]
fn load_of_garbage_reports_the_daemon_error() {
    let d = started();
    let b = with_stdin(d.berth_cmd(&["load"]), &vec![7u8; 4096]);
    let k = with_stdin(d.docker_cmd(&["load"]), &vec![7u8; 4096]);
    assert_eq!(code(&b), 1);
    assert_eq!(norm(&stderr(&b)), norm(&stderr(&k)));
}

#[test]
fn import_with_changes_and_message() {
    let d = started();
    let tar = common::busybox_tar();
    let o = ok(
        &d,
        &[
            "import",
            "-c",
            "ENV X=1",
            "-m",
            "imported here",
            tar.to_str().unwrap(),
            "imp:1",
        ],
    );
    assert!(o.starts_with("sha256:") && o.len() == 72, "{o}");
    let o = same(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Env}} {{.Comment}}",
            "imp:1",
        ],
    );
    assert_eq!(stdout(&o), "[\"X=1\"] imported here\n");
    let o = with_stdin(
        d.berth_cmd(&[
            "image",
            "import",
            "-c",
            "CMD [\"/bin/echo\", \"hi\"]",
            "-",
            "imp:2",
        ]),
        &std::fs::read(&tar).unwrap(),
    );
    assert_ok(&o, "import -");
    let o = ok(&d, &["run", "--rm", "imp:2"]);
    assert_eq!(o, "hi\n");
    let o = same(&d, &["history", "--format", "{{.Comment}}", "imp:2"]);
    assert_eq!(stdout(&o), "Imported from -\n");
    let o = same(&d, &["import", "/nonexistent.tar", "x"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "open /nonexistent.tar: no such file or directory\n"
    );
}

#[test]
fn import_with_several_changes() {
    let d = started();
    let tar = common::busybox_tar();
    ok(
        &d,
        &[
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            "-c",
            "ENV X=1",
            tar.to_str().unwrap(),
            "imp:3",
        ],
    );
    let o = ok(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{json .Config.Env}}",
            "imp:3",
        ],
    );
    assert_eq!(o, "[\"/bin/sh\"] [\"X=1\"]\n");
}

#[test]
fn commit_with_change_author_message() {
    let d = started();
    ok(
        &d,
        &[
            "run",
            "--name",
            "cc",
            "busybox",
            "sh",
            "-c",
            "echo data > /committed",
        ],
    );
    let o = ok(
        &d,
        &[
            "commit",
            "-c",
            "CMD [\"cat\", \"/committed\"]",
            "-a",
            "me",
            "-m",
            "msg",
            "cc",
            "img:c1",
        ],
    );
    assert!(o.starts_with("sha256:"), "{o}");
    let o = same(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{.Author}} {{.Comment}}",
            "img:c1",
        ],
    );
    assert_eq!(stdout(&o), "[\"cat\",\"/committed\"] me msg\n");
    assert_eq!(ok(&d, &["run", "--rm", "img:c1"]), "data\n");
    let o = same(&d, &["commit", "nosuch", "x:1"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "Error response from daemon: No such container: nosuch\n"
    );
    ok(&d, &["container", "commit", "cc"]);
    let o = same(&d, &["images", "-f", "dangling=true", "-q"]);
    assert_eq!(stdout(&o).lines().count(), 1);
}

#[test]
fn commit_with_several_changes() {
    let d = started();
    ok(&d, &["create", "--name", "cc", "busybox", "true"]);
    ok(
        &d,
        &[
            "commit",
            "-c",
            "CMD [\"echo\",\"hi\"]",
            "-c",
            "ENV A=1",
            "cc",
            "img:c2",
        ],
    );
    let o = ok(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{json .Config.Env}}",
            "img:c2",
        ],
    );
    assert_eq!(o, "[\"echo\",\"hi\"] [\"A=1\"]\n");
}
