"""Container configuration that docker-py sends through create: inspect round trips and
what the process sees (tmpfs, read-only rootfs, volumes_from, capabilities, init, ...)."""

import docker
import pytest

from conftest import BASE, unique


def test_inspect_round_trip(client, track):
    c = track.create(
        ["sleep", "1"],
        environment=["A=1", "B=two"],
        working_dir="/work",
        labels={"x": "y"},
        hostname="h1",
        domainname="example.com",
        user="nobody",
        stop_signal="SIGINT",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
        tty=True,
        stdin_open=True,
    )
    a = client.api.inspect_container(c.id)
    cfg, hc = a["Config"], a["HostConfig"]
    assert "A=1" in cfg["Env"] and "B=two" in cfg["Env"]
    assert cfg["WorkingDir"] == "/work"
    assert cfg["Labels"] == {"x": "y"}
    assert cfg["Hostname"] == "h1"
    assert cfg["Domainname"] == "example.com"
    assert cfg["User"] == "nobody"
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Tty"] is True and cfg["OpenStdin"] is True
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert a["Path"] == "sleep" and a["Args"] == ["1"]
    assert a["Image"] == client.images.get(BASE).id
    assert a["Created"]
    assert a["State"]["Status"] == "created"
    assert a["RestartCount"] == 0
    assert a["Driver"]
    assert a["LogPath"] is not None
    assert hc["LogConfig"]["Type"] == "json-file"


def test_working_dir_is_created(client):
    out = client.containers.run(BASE, ["pwd"], working_dir="/does/not/exist/yet", remove=True)
    assert out == b"/does/not/exist/yet\n"


def test_hostname_file_and_hosts(client):
    out = client.containers.run(
        BASE, ["sh", "-c", "cat /etc/hostname; hostname"], hostname="myhost", remove=True
    )
    assert out == b"myhost\nmyhost\n"


def test_default_hostname_is_short_id(client, track):
    c = track.create(["hostname"])
    c.start()
    c.wait(timeout=30)
    assert c.logs() == c.id[:12].encode() + b"\n"


def test_extra_hosts(client):
    out = client.containers.run(
        BASE, ["cat", "/etc/hosts"], extra_hosts={"somehost": "10.1.2.3"}, remove=True
    )
    assert b"10.1.2.3\tsomehost" in out or b"10.1.2.3 somehost" in out


def test_tmpfs(client):
    out = client.containers.run(
        BASE,
        ["sh", "-c", "echo x > /scratch/f && grep ' /scratch ' /proc/mounts"],
        tmpfs={"/scratch": "size=1m"},
        remove=True,
    )
    assert out.startswith(b"tmpfs /scratch tmpfs")


def test_read_only_rootfs(client):
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(BASE, ["touch", "/ro-test"], read_only=True, remove=True)
    assert b"Read-only file system" in info.value.stderr
    # /tmp on a tmpfs stays writable as usual with --read-only --tmpfs /tmp
    out = client.containers.run(
        BASE, ["sh", "-c", "touch /tmp/ok && echo ok"], read_only=True, tmpfs={"/tmp": ""}, remove=True
    )
    assert out == b"ok\n"


def test_volumes_from(client, track):
    v = track.volume(client.volumes.create(name=unique("dpy-vol")))
    src = track.create(
        ["sh", "-c", "echo shared > /data/f"], volumes={v.name: {"bind": "/data", "mode": "rw"}}
    )
    src.start()
    assert src.wait(timeout=30)["StatusCode"] == 0
    out = client.containers.run(BASE, ["cat", "/data/f"], volumes_from=[src.id], remove=True)
    assert out == b"shared\n"


def test_anonymous_volume_removed_with_v(client, track):
    c = track.create(["true"], volumes=["/anon"])
    c.reload()
    mounts = c.attrs["Mounts"]
    assert len(mounts) == 1 and mounts[0]["Type"] == "volume"
    name = mounts[0]["Name"]
    client.volumes.get(name)
    c.remove(v=True)
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(name)


def test_cap_drop_and_add(client):
    # CAP_CHOWN is in docker's default set; dropping it makes chown fail for root.
    with pytest.raises(docker.errors.ContainerError):
        client.containers.run(BASE, ["chown", "1:1", "/tmp"], cap_drop=["CHOWN"], remove=True)
    client.containers.run(BASE, ["chown", "1:1", "/tmp"], remove=True)
    out = client.containers.run(
        BASE, ["sh", "-c", "grep CapEff /proc/self/status"], cap_add=["SYS_ADMIN"], remove=True
    )
    assert out.startswith(b"CapEff:"), out
    eff = int(out.split()[1], 16)
    assert eff & (1 << 21)  # CAP_SYS_ADMIN


def test_privileged(client):
    out = client.containers.run(
        BASE, ["sh", "-c", "grep CapEff /proc/self/status"], privileged=True, remove=True
    )
    eff = int(out.split()[1], 16)
    assert eff & (1 << 21)


def test_init(client):
    out = client.containers.run(BASE, ["sh", "-c", "echo $$"], init=True, remove=True)
    assert out != b"1\n"
    out = client.containers.run(BASE, ["sh", "-c", "echo $$"], remove=True)
    assert out == b"1\n"


def test_pid_namespace(client):
    out = client.containers.run(BASE, ["sh", "-c", "ps -o pid,comm | wc -l"], remove=True)
    assert int(out) <= 4  # header, sh, ps, wc


def test_network_mode_none(client):
    out = client.containers.run(BASE, ["ls", "/sys/class/net"], network_mode="none", remove=True)
    assert out.split() == [b"lo"]


def test_stdin_open_and_attach_after_start(api, track):
    c = track.create(["sh", "-c", "read line; echo got:$line"], stdin_open=True)
    sock = api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
    try:
        c.start()
        getattr(sock, "_sock", sock).sendall(b"abc\n")
        assert c.wait(timeout=30)["StatusCode"] == 0
    finally:
        sock.close()
    assert c.logs() == b"got:abc\n"


def test_size_in_list_and_inspect(api, track):
    c = track.create(["sh", "-c", "head -c 100000 /dev/zero > /blob"])
    c.start()
    c.wait(timeout=30)
    listed = api.containers(all=True, filters={"id": c.id}, size=True)[0]
    assert listed["SizeRw"] >= 100000
    assert listed["SizeRootFs"] >= listed["SizeRw"]
