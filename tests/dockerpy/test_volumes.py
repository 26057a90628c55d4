"""Volumes: create/list/get/remove/prune, named volumes and bind mounts in containers."""

import docker
import pytest

from conftest import BASE, unique


def test_create_get_list_remove(client, track):
    name = unique("dpy-vol")
    v = client.volumes.create(name=name, driver="local", labels={"dpy": "1", "k": "v"})
    track.volume(v)
    assert v.name == name == v.id
    assert v.attrs["Driver"] == "local"
    assert v.attrs["Mountpoint"]
    assert v.attrs["Labels"] == {"dpy": "1", "k": "v"}
    assert v.attrs["Scope"] == "local"
    got = client.volumes.get(name)
    assert got.name == name and got.attrs["Mountpoint"] == v.attrs["Mountpoint"]
    assert name in [x.name for x in client.volumes.list()]
    assert name in [x.name for x in client.volumes.list(filters={"label": "k=v"})]
    assert name not in [x.name for x in client.volumes.list(filters={"label": "k=other"})]
    assert [x.name for x in client.volumes.list(filters={"name": name})] == [name]
    v.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(name)


def test_create_is_idempotent(client, track):
    name = unique("dpy-vol")
    v1 = client.volumes.create(name=name)
    track.volume(v1)
    v2 = client.volumes.create(name=name)
    assert v1.attrs["Mountpoint"] == v2.attrs["Mountpoint"]


def test_create_without_name(client, track):
    v = client.volumes.create()
    track.volume(v)
    assert len(v.name) >= 32
    assert client.volumes.get(v.name).name == v.name


def test_low_level(api, track):
    name = unique("dpy-vol")
    api.create_volume(name, labels={"a": "b"})
    track.volume(name)
    assert api.inspect_volume(name)["Name"] == name
    listed = api.volumes()
    assert "Volumes" in listed
    assert name in [v["Name"] for v in listed["Volumes"]]
    api.remove_volume(name)
    assert name not in [v["Name"] for v in api.volumes()["Volumes"]]


def test_prune(client, track):
    tag = unique("prune")
    unused = client.volumes.create(name=unique("dpy-vol"), labels={"dpy.prune": tag})
    track.volume(unused)
    used = client.volumes.create(name=unique("dpy-vol"), labels={"dpy.prune": tag})
    track.volume(used)
    track.create(volumes={used.name: {"bind": "/data", "mode": "rw"}})
    result = client.volumes.prune(filters={"label": f"dpy.prune={tag}", "all": "true"})
    assert result["VolumesDeleted"] == [unused.name]
    assert "SpaceReclaimed" in result
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(unused.name)
    client.volumes.get(used.name)


def test_named_volume_shared_between_containers(client, track):
    v = track.volume(client.volumes.create(name=unique("dpy-vol")))
    writer = track.create(
        ["sh", "-c", "echo persisted > /data/file"], volumes={v.name: {"bind": "/data", "mode": "rw"}}
    )
    writer.start()
    assert writer.wait(timeout=30)["StatusCode"] == 0
    mounts = writer.attrs["Mounts"] if writer.attrs.get("Mounts") else None
    writer.reload()
    mounts = writer.attrs["Mounts"]
    assert len(mounts) == 1
    m = mounts[0]
    assert m["Type"] == "volume"
    assert m["Name"] == v.name
    assert m["Destination"] == "/data"
    assert m["RW"] is True
    out = client.containers.run(BASE, ["cat", "/data/file"], volumes=[f"{v.name}:/data:ro"], remove=True)
    assert out == b"persisted\n"


def test_volume_created_on_demand(client, track):
    name = unique("dpy-vol")
    track.volume(name)
    c = track.create(["true"], volumes={name: {"bind": "/auto", "mode": "rw"}})
    assert client.volumes.get(name).name == name
    assert c.attrs["HostConfig"]["Binds"] == [f"{name}:/auto:rw"]


def test_volume_in_use_cannot_be_removed(client, track):
    v = track.volume(client.volumes.create(name=unique("dpy-vol")))
    track.create(volumes={v.name: {"bind": "/data", "mode": "rw"}})
    with pytest.raises(docker.errors.APIError) as info:
        v.remove()
    assert info.value.status_code == 409


def test_read_only_volume(client, track):
    v = track.volume(client.volumes.create(name=unique("dpy-vol")))
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(
            BASE, ["sh", "-c", "touch /data/x"], volumes={v.name: {"bind": "/data", "mode": "ro"}}, remove=True
        )
    assert info.value.exit_status != 0


def test_bind_mount(client, track, tmp_path):
    (tmp_path / "in.txt").write_text("from host\n")
    out = client.containers.run(
        BASE,
        ["sh", "-c", "cat /mnt/in.txt; echo from container > /mnt/out.txt"],
        volumes={str(tmp_path): {"bind": "/mnt", "mode": "rw"}},
        remove=True,
    )
    assert out == b"from host\n"
    assert (tmp_path / "out.txt").read_text() == "from container\n"


def test_bind_mount_read_only(client, tmp_path):
    with pytest.raises(docker.errors.ContainerError):
        client.containers.run(
            BASE, ["touch", "/mnt/x"], volumes=[f"{tmp_path}:/mnt:ro"], remove=True
        )
    assert not (tmp_path / "x").exists()


def test_mount_objects(client, track, tmp_path):
    (tmp_path / "m.txt").write_text("mount api\n")
    v = track.volume(client.volumes.create(name=unique("dpy-vol")))
    c = track.create(
        ["sh", "-c", "cat /b/m.txt > /v/copy && cat /v/copy"],
        mounts=[
            docker.types.Mount("/b", str(tmp_path), type="bind", read_only=True),
            docker.types.Mount("/v", v.name, type="volume"),
        ],
    )
    c.start()
    assert c.wait(timeout=30)["StatusCode"] == 0
    assert c.logs() == b"mount api\n"
    c.reload()
    kinds = {m["Destination"]: m["Type"] for m in c.attrs["Mounts"]}
    assert kinds == {"/b": "bind", "/v": "volume"}
