"""ping, version, info, df and API version negotiation."""

import os

import docker


def test_ping(client, api):
    assert client.ping() is True
    assert api.ping() is True


def test_version(client):
    v = client.version()
    assert v["ApiVersion"] == "1.45"
    assert v["MinAPIVersion"] == "1.24"
    assert v["Os"] == "linux"
    for key in ("Version", "Arch", "GoVersion", "GitCommit", "KernelVersion"):
        assert key in v, key
    assert isinstance(v.get("Components", []), list)


def test_negotiated_api_version(client):
    # from_env() without a version asks the server; an explicit "auto" does too.
    assert client.api.api_version == "1.45"
    c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
    try:
        assert c.api.api_version == "1.45"
        assert c.ping()
    finally:
        c.close()


def test_older_pinned_api_version_works():
    c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="1.41")
    try:
        assert c.version()["ApiVersion"] == "1.45"
        assert any("busybox:latest" in i.tags for i in c.images.list())
    finally:
        c.close()


def test_info(client):
    info = client.info()
    assert info["OSType"] == "linux"
    for key in (
        "ID",
        "Containers",
        "ContainersRunning",
        "ContainersStopped",
        "ContainersPaused",
        "Images",
        "Driver",
        "DockerRootDir",
        "NCPU",
        "MemTotal",
        "KernelVersion",
        "OperatingSystem",
        "ServerVersion",
        "CgroupDriver",
    ):
        assert key in info, key
    assert info["NCPU"] >= 1
    assert info["Images"] >= 1


def test_info_counts_containers(client, track):
    before = client.info()
    track.run_bg()
    after = client.info()
    assert after["Containers"] == before["Containers"] + 1
    assert after["ContainersRunning"] == before["ContainersRunning"] + 1


def test_df(client):
    df = client.df()
    for key in ("LayersSize", "Images", "Containers", "Volumes"):
        assert key in df, key
    assert any("busybox:latest" in (i.get("RepoTags") or []) for i in df["Images"])
