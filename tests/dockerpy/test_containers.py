"""Containers: run, lifecycle, wait, logs, rename, labels and filters, prune."""

import re
import time

import docker
import pytest

from conftest import BASE, unique, wait_for


# --- containers.run -------------------------------------------------------------------------


def test_run_returns_stdout(client):
    out = client.containers.run(BASE, ["echo", "hello"], remove=True)
    assert out == b"hello\n"


def test_run_string_command(client):
    out = client.containers.run(BASE, "sh -c 'echo $((6*7))'", remove=True)
    assert out == b"42\n"


def test_run_stdout_stderr_capture(client):
    cmd = ["sh", "-c", "echo to-out; echo to-err >&2"]
    assert client.containers.run(BASE, cmd, remove=True) == b"to-out\n"
    assert (
        client.containers.run(BASE, cmd, remove=True, stdout=False, stderr=True)
        == b"to-err\n"
    )
    both = client.containers.run(BASE, cmd, remove=True, stderr=True)
    assert sorted(both.splitlines()) == [b"to-err", b"to-out"]


def test_run_stream(client):
    out = client.containers.run(
        BASE, ["sh", "-c", "for i in 1 2 3; do echo $i; done"], remove=True, stream=True
    )
    assert b"".join(out) == b"1\n2\n3\n"


def test_run_nonzero_exit_raises_container_error(client):
    name = unique()
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(
            BASE, ["sh", "-c", "echo oops >&2; exit 3"], name=name, remove=True
        )
    err = info.value
    assert err.exit_status == 3
    assert err.stderr == b"oops\n"
    assert err.image == BASE
    # remove=True removes the failed container too.
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_run_remove_leaves_nothing(client):
    name = unique()
    client.containers.run(BASE, ["true"], name=name, remove=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_run_auto_remove(client, track):
    c = client.containers.run(BASE, ["true"], detach=True, auto_remove=True)
    track.container(c)

    def gone():
        try:
            client.containers.get(c.id)
            return False
        except docker.errors.NotFound:
            return True

    wait_for(gone, what="auto-removed container to disappear")


def test_run_detach(client, track):
    name = unique()
    c = client.containers.run(BASE, ["sleep", "300"], detach=True, name=name)
    track.container(c)
    assert isinstance(c, docker.models.containers.Container)
    c.reload()
    assert c.status == "running"
    assert c.name == name
    assert c.attrs["State"]["Running"] is True
    assert c.attrs["State"]["Pid"] > 0
    assert c.attrs["Config"]["Cmd"] == ["sleep", "300"]
    assert c.attrs["Config"]["Image"] == BASE
    assert c.image.id == client.images.get(BASE).id
    assert c.id in [x.id for x in client.containers.list()]


def test_run_with_environment_workdir_user_hostname(client):
    out = client.containers.run(
        BASE,
        ["sh", "-c", 'echo "$FOO $(pwd) $(id -u):$(id -g) $(hostname)"'],
        environment={"FOO": "bar"},
        working_dir="/tmp",
        user="1000:1001",
        hostname="dpyhost",
        remove=True,
    )
    assert out == b"bar /tmp 1000:1001 dpyhost\n"


def test_run_entrypoint(client):
    out = client.containers.run(BASE, ["a", "b"], entrypoint=["echo", "ep"], remove=True)
    assert out == b"ep a b\n"


def test_run_tty(client):
    out = client.containers.run(BASE, ["echo", "tty"], tty=True, remove=True)
    assert out == b"tty\r\n"


# --- lifecycle --------------------------------------------------------------------------------


def test_create_start_stop(client, track):
    c = track.create(["sleep", "300"])
    assert c.status == "created"
    assert c.id in [x.id for x in client.containers.list(all=True)]
    assert c.id not in [x.id for x in client.containers.list()]
    c.start()
    c.reload()
    assert c.status == "running"
    t0 = time.monotonic()
    c.stop(timeout=1)
    assert time.monotonic() - t0 < 10
    c.reload()
    assert c.status == "exited"
    assert c.attrs["State"]["ExitCode"] == 137
    assert c.attrs["State"]["FinishedAt"]


def test_stop_graceful(track):
    c = track.run_bg(
        ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    )
    time.sleep(0.3)  # let the shell install its trap
    c.stop(timeout=10)
    c.reload()
    assert c.status == "exited"
    assert c.attrs["State"]["ExitCode"] == 0


def test_kill_and_wait(track):
    c = track.run_bg()
    c.kill()
    result = c.wait(timeout=30)
    assert result["StatusCode"] == 137
    assert result.get("Error") in (None, {}) or not result["Error"].get("Message")
    c.reload()
    assert c.status == "exited"


def test_kill_with_signal(track):
    c = track.run_bg(
        ["sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"]
    )
    time.sleep(0.3)
    c.kill(signal="SIGUSR1")
    assert c.wait(timeout=30)["StatusCode"] == 7
    c2 = track.run_bg(["sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.1; done"])
    time.sleep(0.3)
    c2.kill(signal=15)
    assert c2.wait(timeout=30)["StatusCode"] == 9


def test_restart(track):
    c = track.run_bg()
    c.reload()
    first_pid = c.attrs["State"]["Pid"]
    first_start = c.attrs["State"]["StartedAt"]
    c.restart(timeout=1)
    c.reload()
    assert c.status == "running"
    assert c.attrs["State"]["Pid"] != first_pid
    assert c.attrs["State"]["StartedAt"] != first_start
    # A stopped container restarts too.
    c.stop(timeout=1)
    c.restart(timeout=1)
    c.reload()
    assert c.status == "running"


def test_wait_returns_status_code(track):
    c = track.run_bg(["sh", "-c", "sleep 0.5; exit 42"])
    assert c.wait(timeout=30)["StatusCode"] == 42
    # Waiting on an exited container answers at once.
    assert c.wait(timeout=5)["StatusCode"] == 42


def test_wait_timeout(track):
    c = track.run_bg()
    with pytest.raises(Exception) as info:
        c.wait(timeout=1)
    assert "timed out" in str(info.value).lower() or "timeout" in type(info.value).__name__.lower()


def test_wait_conditions(api, track):
    c = track.create(["true"])
    # next-exit on a created container waits for the run that follows.
    c.start()
    assert api.wait(c.id, timeout=30, condition="not-running")["StatusCode"] == 0
    c.remove()
    c2 = track.create(["sh", "-c", "exit 5"])
    c2.start()
    assert api.wait(c2.id, timeout=30)["StatusCode"] == 5


def test_low_level_lifecycle(api, track):
    name = unique()
    resp = api.create_container(
        BASE,
        ["sh", "-c", "exit 4"],
        name=name,
        host_config=api.create_host_config(),
    )
    track.container(resp["Id"])
    assert resp["Id"] and resp.get("Warnings") in (None, [])
    api.start(resp["Id"])
    assert api.wait(resp["Id"])["StatusCode"] == 4
    info = api.inspect_container(name)
    assert info["Id"] == resp["Id"]
    assert info["Name"] == "/" + name
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 4
    assert any(c["Id"] == resp["Id"] for c in api.containers(all=True))
    api.remove_container(resp["Id"])
    assert not any(c["Id"] == resp["Id"] for c in api.containers(all=True))


def test_get_by_short_id(client, track):
    c = track.create()
    assert client.containers.get(c.id[:12]).id == c.id
    assert c.short_id == c.id[:12]


# --- logs -------------------------------------------------------------------------------------


TS = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")


def test_logs_streams_selection(track):
    c = track.run_bg(["sh", "-c", "echo one; echo two >&2; echo three"])
    assert c.wait(timeout=30)["StatusCode"] == 0
    assert c.logs(stdout=True, stderr=False) == b"one\nthree\n"
    assert c.logs(stdout=False, stderr=True) == b"two\n"
    assert sorted(c.logs().splitlines()) == [b"one", b"three", b"two"]


def test_logs_tail(track):
    c = track.run_bg(["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"])
    c.wait(timeout=30)
    assert c.logs(tail=2) == b"line4\nline5\n"
    assert c.logs(tail=0) == b""
    assert c.logs(tail="all") == b"".join(b"line%d\n" % i for i in range(1, 6))


def test_logs_timestamps(track):
    c = track.run_bg(["sh", "-c", "echo a; echo b"])
    c.wait(timeout=30)
    lines = c.logs(timestamps=True).splitlines()
    assert len(lines) == 2
    for line, want in zip(lines, (b"a", b"b")):
        assert TS.match(line), line
        assert line.split(b" ", 1)[1] == want


def test_logs_since(track):
    c = track.run_bg(["sh", "-c", "echo first; sleep 2; echo second; sleep 300"])
    wait_for(lambda: b"first" in c.logs(), what="first log line")
    t = time.time()
    wait_for(lambda: b"second" in c.logs(), what="second log line")
    assert c.logs(since=t) == b"second\n"
    assert c.logs(since=int(t) + 100) == b""


def test_logs_until(track):
    c = track.run_bg(["sh", "-c", "echo early; sleep 2; echo late"])
    wait_for(lambda: b"early" in c.logs(), what="first log line")
    t = time.time()
    assert c.wait(timeout=30)["StatusCode"] == 0
    assert c.logs(until=t) == b"early\n"
    assert c.logs(since=t) == b"late\n"
    assert c.logs(until=int(time.time()) - 3600) == b""


def test_logs_follow_stream(track):
    c = track.run_bg(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"])
    out = b"".join(c.logs(stream=True, follow=True))
    assert out == b"1\n2\n3\n"


def test_logs_stream_without_follow(track):
    c = track.run_bg(["sh", "-c", "echo x; echo y"])
    c.wait(timeout=30)
    assert b"".join(c.logs(stream=True)) == b"x\ny\n"


def test_logs_tty(track):
    c = track.run_bg(["sh", "-c", "echo tty-out; echo tty-err >&2"], tty=True)
    c.wait(timeout=30)
    assert sorted(c.logs().split(b"\n")) == [b"", b"tty-err\r", b"tty-out\r"]


# --- rename, labels, filters, prune ----------------------------------------------------------


def test_rename(client, track):
    c = track.create()
    new = unique("dpy-renamed")
    c.rename(new)
    c.reload()
    assert c.name == new
    assert client.containers.get(new).id == c.id
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id[:0] + "no-such-" + new)


def test_labels_and_filters(client, track):
    tag = unique("lbl")
    a = track.run_bg(labels={"dpy.test": tag, "role": "a"})
    b = track.create(labels={"dpy.test": tag, "role": "b"})
    assert a.labels == {"dpy.test": tag, "role": "a"}
    assert b.labels["role"] == "b"

    def ids(**filters):
        return sorted(x.id for x in client.containers.list(all=True, filters=filters))

    assert ids(label=f"dpy.test={tag}") == sorted([a.id, b.id])
    assert ids(label=[f"dpy.test={tag}", "role=a"]) == [a.id]
    assert ids(label="dpy.test") and a.id in ids(label="dpy.test")
    assert ids(label=f"dpy.test={tag}", status="running") == [a.id]
    assert ids(label=f"dpy.test={tag}", status="created") == [b.id]
    assert ids(name=b.name) == [b.id]
    assert ids(id=a.id) == [a.id]
    assert a.id in ids(ancestor=BASE)
    assert ids(label=f"dpy.test={tag}", ancestor="busybox") == sorted([a.id, b.id])
    # Without all=True only running containers are listed.
    assert [x.id for x in client.containers.list(filters={"label": f"dpy.test={tag}"})] == [a.id]
    # limit / since
    assert len(client.containers.list(all=True, limit=1)) == 1


def test_list_sparse_and_attrs(client, track):
    c = track.run_bg(labels={"k": "v"})
    listed = client.api.containers(filters={"id": c.id})
    assert len(listed) == 1
    attrs = listed[0]
    assert attrs["Id"] == c.id
    assert attrs["Names"] == ["/" + c.name]
    assert attrs["Image"] == BASE
    assert attrs["State"] == "running"
    assert attrs["Labels"] == {"k": "v"}
    assert attrs["Command"] == "sleep 300"
    sparse = client.containers.list(filters={"id": c.id}, sparse=True)
    assert sparse[0].id == c.id


def test_prune(client, track):
    tag = unique("prune")
    stopped = track.create(labels={"dpy.prune": tag})
    stopped.start()
    stopped.wait(timeout=30)
    alive = track.run_bg(labels={"dpy.prune": tag})
    result = client.containers.prune(filters={"label": f"dpy.prune={tag}"})
    assert result["ContainersDeleted"] == [stopped.id]
    assert "SpaceReclaimed" in result
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(stopped.id)
    alive.reload()
    assert alive.status == "running"
