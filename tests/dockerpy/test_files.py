"""top, diff, put_archive/get_archive, export, commit."""

import io
import tarfile
import time

import docker
import pytest

from conftest import BASE, unique


def _tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _untar(chunks):
    data = b"".join(chunks)
    return tarfile.open(fileobj=io.BytesIO(data))


def test_top(running):
    top = running.top()
    assert "PID" in top["Titles"]
    assert "CMD" in top["Titles"] or "COMMAND" in top["Titles"]
    cmd_col = top["Titles"].index("CMD" if "CMD" in top["Titles"] else "COMMAND")
    assert any("sleep 300" in p[cmd_col] for p in top["Processes"])
    pid_col = top["Titles"].index("PID")
    running.reload()
    assert str(running.attrs["State"]["Pid"]) in [p[pid_col] for p in top["Processes"]]


def test_top_with_ps_args(running):
    top = running.top(ps_args="aux")
    assert "PID" in top["Titles"]
    assert top["Processes"]


def test_top_of_stopped_container_conflicts(track):
    c = track.create()
    with pytest.raises(docker.errors.APIError) as info:
        c.top()
    assert info.value.status_code == 409


def test_diff(track):
    c = track.run_bg(
        ["sh", "-c", "mkdir /newdir && echo x > /newdir/f && rm /etc/group && echo y >> /etc/passwd"]
    )
    assert c.wait(timeout=30)["StatusCode"] == 0
    changes = {d["Path"]: d["Kind"] for d in c.diff()}
    assert changes.get("/newdir") == 1
    assert changes.get("/newdir/f") == 1
    assert changes.get("/etc/group") == 2
    assert changes.get("/etc/passwd") == 0
    assert changes.get("/etc") == 0


def test_put_and_get_archive(running):
    data = _tar_of({"hello.txt": b"hello archive\n", "sub/inner.txt": b"inner\n"})
    assert running.put_archive("/tmp", data) is True
    assert running.exec_run("cat /tmp/hello.txt").output == b"hello archive\n"
    assert running.exec_run("cat /tmp/sub/inner.txt").output == b"inner\n"

    chunks, stat = running.get_archive("/tmp/hello.txt")
    assert stat["name"] == "hello.txt"
    assert stat["size"] == len(b"hello archive\n")
    assert "mode" in stat and "mtime" in stat
    with _untar(chunks) as tar:
        assert tar.getnames() == ["hello.txt"]
        assert tar.extractfile("hello.txt").read() == b"hello archive\n"

    chunks, stat = running.get_archive("/tmp/sub")
    assert stat["name"] == "sub"
    with _untar(chunks) as tar:
        names = tar.getnames()
        assert "sub" in names and "sub/inner.txt" in names


def test_archive_on_stopped_container(track):
    c = track.create()
    assert c.put_archive("/", _tar_of({"stopped.txt": b"s\n"})) is True
    chunks, stat = c.get_archive("/stopped.txt")
    with _untar(chunks) as tar:
        assert tar.extractfile("stopped.txt").read() == b"s\n"


def test_get_archive_missing_path(running):
    with pytest.raises(docker.errors.NotFound):
        running.get_archive("/no/such/path")


def test_put_archive_missing_dir(running):
    with pytest.raises(docker.errors.NotFound):
        running.put_archive("/no/such/dir", _tar_of({"f": b""}))


def test_export(track):
    c = track.create(["sh", "-c", "echo exported > /exported.txt"])
    c.start()
    c.wait(timeout=30)
    with _untar(c.export()) as tar:
        names = {n.lstrip("./").rstrip("/") for n in tar.getnames()}
        assert "bin/busybox" in names
        assert "exported.txt" in names
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "exported.txt")
        assert tar.extractfile(member).read() == b"exported\n"


def test_commit(client, track):
    c = track.create(["sh", "-c", "echo committed > /hello"])
    c.start()
    c.wait(timeout=30)
    repo = unique("dpy-commit")
    img = c.commit(
        repository=repo,
        tag="v1",
        message="a message",
        author="dpy <dpy@example.com>",
        changes=["ENV FOO=bar", 'CMD ["cat", "/hello"]', "LABEL dpy.commit=yes"],
    )
    track.image(f"{repo}:v1")
    track.image(img.id)
    assert f"{repo}:v1" in img.tags
    attrs = client.images.get(f"{repo}:v1").attrs
    assert attrs["Comment"] == "a message"
    assert attrs["Author"] == "dpy <dpy@example.com>"
    assert "FOO=bar" in attrs["Config"]["Env"]
    assert attrs["Config"]["Cmd"] == ["cat", "/hello"]
    assert attrs["Config"]["Labels"]["dpy.commit"] == "yes"
    assert attrs["Parent"] in ("", client.images.get(BASE).id)
    assert len(attrs["RootFS"]["Layers"]) == len(client.images.get(BASE).attrs["RootFS"]["Layers"]) + 1
    out = client.containers.run(f"{repo}:v1", remove=True, environment={"X": "1"})
    assert out == b"committed\n"


def test_commit_with_conf(client, track):
    c = track.create(["true"])
    repo = unique("dpy-commit-conf")
    img = c.commit(repository=repo, conf={"Labels": {"from": "conf"}, "Cmd": ["echo", "conf"]})
    track.image(f"{repo}:latest")
    track.image(img.id)
    assert img.labels.get("from") == "conf"
    assert client.containers.run(repo, remove=True) == b"conf\n"
