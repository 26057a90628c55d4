"""Shared fixtures for the docker-py end-to-end suite.

The suite talks to whatever daemon DOCKER_HOST points at (the Rust runner in
crates/berth/tests/dockerpy.rs starts a private berth daemon and imports
busybox:latest into it). Nothing is ever pulled: there is no network.
Every test removes what it creates, through the `track` fixture.
"""

import ipaddress
import os
import time
import uuid
from collections import namedtuple

import docker
import pytest

BASE = "busybox:latest"


def unique(prefix="dpy"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_for(pred, timeout=15.0, interval=0.05, what="condition"):
    """Polls `pred` until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def client():
    if "DOCKER_HOST" not in os.environ:
        pytest.exit("DOCKER_HOST must point at a berth daemon", returncode=2)
    c = docker.from_env(timeout=120)
    try:
        c.images.get(BASE)
    except docker.errors.ImageNotFound:
        pytest.exit(f"{BASE} must be loaded into the daemon first", returncode=2)
    yield c
    c.close()


@pytest.fixture(scope="session")
def api(client):
    return client.api


class Tracker:
    """Remembers containers, images, volumes and networks a test made; removes them at teardown."""

    def __init__(self, client):
        self.client = client
        self.containers = []
        self.images = []
        self.volumes = []
        self.networks = []

    def container(self, c):
        self.containers.append(c if isinstance(c, str) else c.id)
        return c

    def image(self, ref):
        """`ref` is a tag or an image id; never pass the base image."""
        self.images.append(ref if isinstance(ref, str) else ref.id)
        return ref

    def volume(self, v):
        self.volumes.append(v if isinstance(v, str) else v.name)
        return v

    def network(self, n):
        """A network object, an id or the dict `create_network` returns."""
        self.networks.append(n["Id"] if isinstance(n, dict) else getattr(n, "id", n))
        return n

    def run_bg(self, command=("sleep", "300"), **kwargs):
        """A detached container from the base image, removed at teardown."""
        kwargs.setdefault("name", unique())
        c = self.client.containers.run(BASE, list(command), detach=True, **kwargs)
        self.container(c)
        return c

    def create(self, command=("true",), **kwargs):
        kwargs.setdefault("name", unique())
        c = self.client.containers.create(BASE, list(command), **kwargs)
        self.container(c)
        return c

    def cleanup(self):
        api = self.client.api
        errors = []
        for cid in reversed(self.containers):
            try:
                api.remove_container(cid, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:  # pragma: no cover - reported below
                errors.append(f"container {cid}: {e}")
        for ref in reversed(self.images):
            try:
                api.remove_image(ref, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:  # pragma: no cover
                errors.append(f"image {ref}: {e}")
        for name in reversed(self.volumes):
            try:
                api.remove_volume(name, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:  # pragma: no cover
                errors.append(f"volume {name}: {e}")
        for nid in reversed(self.networks):
            try:
                api.remove_network(nid)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:  # pragma: no cover
                errors.append(f"network {nid}: {e}")
        assert not errors, "cleanup failed: " + "; ".join(errors)


@pytest.fixture
def track(client):
    t = Tracker(client)
    yield t
    t.cleanup()


@pytest.fixture
def running(track):
    """A running `sleep 300` container."""
    return track.run_bg()


Subnet = namedtuple("Subnet", "cidr gateway net")


class Subnets:
    """Hands out /28s of BERTH_TEST_SUBNETS (addresses of this daemon only), in turn.

    Tests remove their networks, so a /28 is free again by the time it comes round.
    """

    def __init__(self, cidr):
        self.base = ipaddress.ip_network(cidr)
        self.all = list(self.base.subnets(new_prefix=28))
        self.next = 0

    def take(self):
        net = self.all[self.next % len(self.all)]
        self.next += 1
        return Subnet(str(net), str(net[1]), net)

    def take_v6(self):
        """A /64 under fd00::/8 named after the IPv4 block, so no other daemon has it."""
        a, b, c, _ = self.base.network_address.packed
        net = ipaddress.ip_network(f"fd00:{a}:{b}:{c:02x}{self.next % 256:02x}::/64")
        self.next += 1
        return Subnet(str(net), str(net[1]), net)


@pytest.fixture(scope="session")
def subnets():
    cidr = os.environ.get("BERTH_TEST_SUBNETS")
    if not cidr:
        pytest.skip("BERTH_TEST_SUBNETS (a block of the daemon's address pool) is not set")
    return Subnets(cidr)


# --- the host's view of a container ----------------------------------------------------------


def cgroup_v2():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def cgroup_dir(container, controller):
    """The host directory of a running container's cgroup for `controller` (v1), or its
    unified cgroup (v2), found through /proc/<pid>/cgroup of its first process."""
    container.reload()
    pid = container.attrs["State"]["Pid"]
    assert pid > 0, f"container {container.id} is not running"
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for _, controllers, path in lines:
        if cgroup_v2() and controllers == "":
            return os.path.join("/sys/fs/cgroup", path.lstrip("/"))
        if controller in controllers.split(","):
            return os.path.join("/sys/fs/cgroup", controller, path.lstrip("/"))
    raise AssertionError(f"no {controller} cgroup for process {pid}")


def cgroup_read(container, controller, name):
    with open(os.path.join(cgroup_dir(container, controller), name)) as f:
        return f.read().strip()


def first_disk():
    """A whole block device of the host (for blkio throttles), or None."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram", "dm-", "sr", "md")):
            continue
        if os.path.exists(f"/dev/{name}"):
            return f"/dev/{name}"
    return None
