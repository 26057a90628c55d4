"""Resource limits through docker-py: memory, CPU, pids, blkio, ulimits, shm, update.

Each limit is read back where the kernel keeps it (the container's cgroup files on the host,
or what the process inside sees), not only from inspect.
"""

import os

import docker
import pytest

from conftest import BASE, cgroup_dir, cgroup_read, cgroup_v2, first_disk, unique

MIB = 1024 * 1024

needs_v1 = pytest.mark.skipif(
    cgroup_v2(), reason="reads cgroup v1 files; this host has the unified hierarchy only"
)


def sleeper(api, track, **host_config):
    """Creates and starts a `sleep 300` container through the low-level client."""
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        host_config=api.create_host_config(**host_config),
    )
    track.container(resp["Id"])
    api.start(resp["Id"])
    return track.client.containers.get(resp["Id"])


# --- memory -----------------------------------------------------------------------------------


@needs_v1
def test_memory_limits_given_as_strings(api, track):
    c = sleeper(api, track, mem_limit="700M", memswap_limit="1G")
    hc = api.inspect_container(c.id)["HostConfig"]
    assert hc["Memory"] == 700 * MIB
    assert hc["MemorySwap"] == 1024 * MIB
    assert int(cgroup_read(c, "memory", "memory.limit_in_bytes")) == 700 * MIB
    assert int(cgroup_read(c, "memory", "memory.memsw.limit_in_bytes")) == 1024 * MIB


@needs_v1
def test_memory_limit_as_int_swap_defaults_to_twice(track):
    c = track.run_bg(mem_limit=64 * MIB)
    assert c.attrs["HostConfig"]["Memory"] == 64 * MIB
    assert int(cgroup_read(c, "memory", "memory.limit_in_bytes")) == 64 * MIB
    # No MemorySwap: docker lets the container swap as much again as its limit.
    assert int(cgroup_read(c, "memory", "memory.memsw.limit_in_bytes")) == 128 * MIB


@needs_v1
def test_memswap_unlimited(track):
    c = track.run_bg(mem_limit="32m", memswap_limit=-1)
    assert c.attrs["HostConfig"]["MemorySwap"] == -1
    assert int(cgroup_read(c, "memory", "memory.limit_in_bytes")) == 32 * MIB
    assert int(cgroup_read(c, "memory", "memory.memsw.limit_in_bytes")) > 1 << 40


@needs_v1
def test_memory_reservation_and_swappiness(api, track):
    c = sleeper(api, track, mem_reservation="48m", mem_swappiness=40)
    hc = api.inspect_container(c.id)["HostConfig"]
    assert hc["MemoryReservation"] == 48 * MIB
    assert hc["MemorySwappiness"] == 40
    assert int(cgroup_read(c, "memory", "memory.soft_limit_in_bytes")) == 48 * MIB
    assert cgroup_read(c, "memory", "memory.swappiness") == "40"


def test_memory_swappiness_out_of_range_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], mem_swappiness=101, name=unique())
    assert info.value.status_code == 400
    assert "swappiness" in info.value.explanation


def test_memory_limit_too_small_is_refused(client):
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], mem_limit="1k", name=name)
    assert info.value.status_code == 400
    assert "Minimum memory limit" in info.value.explanation
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_memory_limit_is_enforced(client):
    # 48 MiB of zeroes held in a shell variable do not fit in 16 MiB (nor its swap).
    cmd = ["sh", "-c", "x=$(head -c 50331648 /dev/zero | tr '\\0' a); echo ${#x}"]
    name = unique()
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(
            BASE, cmd, mem_limit="16m", memswap_limit="16m", name=name, remove=False
        )
    c = client.containers.get(name)
    try:
        assert info.value.exit_status == 137
        assert c.attrs["State"]["OOMKilled"] is True
    finally:
        c.remove(force=True)
    assert client.containers.run(BASE, cmd, remove=True) == b"50331648\n"


@needs_v1
def test_oom_kill_disable(track):
    c = track.run_bg(mem_limit="32m", oom_kill_disable=True)
    assert c.attrs["HostConfig"]["OomKillDisable"] is True
    control = cgroup_read(c, "memory", "memory.oom_control")
    assert "oom_kill_disable 1" in control.splitlines()


def test_oom_score_adj(api, track):
    c = sleeper(api, track, oom_score_adj=432)
    assert api.inspect_container(c.id)["HostConfig"]["OomScoreAdj"] == 432
    pid = c.attrs["State"]["Pid"]
    with open(f"/proc/{pid}/oom_score_adj") as f:
        assert f.read().strip() == "432"
    code, out = c.exec_run(["cat", "/proc/self/oom_score_adj"])
    assert (code, out) == (0, b"432\n")


def test_oom_score_adj_out_of_range_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], oom_score_adj=1001, name=unique())
    assert info.value.status_code == 400
    assert "oom_score_adj" in info.value.explanation or "-1000" in info.value.explanation


# --- CPU ----------------------------------------------------------------------------------------


@needs_v1
def test_cpu_shares(api, track):
    c = sleeper(api, track, cpu_shares=512)
    assert api.inspect_container(c.id)["HostConfig"]["CpuShares"] == 512
    assert cgroup_read(c, "cpu", "cpu.shares") == "512"


@needs_v1
def test_cpuset_cpus_and_mems(api, track):
    c = sleeper(api, track, cpuset_cpus="0", cpuset_mems="0")
    hc = api.inspect_container(c.id)["HostConfig"]
    assert (hc["CpusetCpus"], hc["CpusetMems"]) == ("0", "0")
    assert cgroup_read(c, "cpuset", "cpuset.cpus") == "0"
    assert cgroup_read(c, "cpuset", "cpuset.mems") == "0"
    code, out = c.exec_run(["grep", "Cpus_allowed_list", "/proc/self/status"])
    assert code == 0 and out.split()[-1] == b"0", out


def test_cpuset_of_a_missing_cpu_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], cpuset_cpus="0-63", name=unique())
    assert info.value.status_code == 400
    assert "Requested CPUs are not available" in info.value.explanation


@needs_v1
def test_cpu_period_and_quota(api, track):
    c = sleeper(api, track, cpu_period=50000, cpu_quota=25000)
    hc = api.inspect_container(c.id)["HostConfig"]
    assert (hc["CpuPeriod"], hc["CpuQuota"]) == (50000, 25000)
    assert cgroup_read(c, "cpu", "cpu.cfs_period_us") == "50000"
    assert cgroup_read(c, "cpu", "cpu.cfs_quota_us") == "25000"


@needs_v1
def test_nano_cpus(track):
    c = track.run_bg(nano_cpus=500_000_000)
    assert c.attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert cgroup_read(c, "cpu", "cpu.cfs_period_us") == "100000"
    assert cgroup_read(c, "cpu", "cpu.cfs_quota_us") == "50000"


def test_nano_cpus_beyond_the_host_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], nano_cpus=99 * 10**9, name=unique())
    assert info.value.status_code == 400
    assert "CPUs available" in info.value.explanation


def test_nano_cpus_with_quota_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE, ["true"], nano_cpus=10**9, cpu_quota=50000, name=unique()
        )
    assert info.value.status_code == 400
    assert "Nano CPUs and CPU Quota cannot both be set" in info.value.explanation


@needs_v1
def test_cpu_realtime(api, track):
    if not os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"):
        pytest.skip("the kernel has no CONFIG_RT_GROUP_SCHED")
    c = sleeper(api, track, cpu_rt_period=1000000, cpu_rt_runtime=5000)
    hc = api.inspect_container(c.id)["HostConfig"]
    assert (hc["CpuRealtimePeriod"], hc["CpuRealtimeRuntime"]) == (1000000, 5000)
    assert cgroup_read(c, "cpu", "cpu.rt_period_us") == "1000000"
    assert cgroup_read(c, "cpu", "cpu.rt_runtime_us") == "5000"


def test_cpu_realtime_runtime_above_period_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE, ["true"], cpu_rt_period=1000, cpu_rt_runtime=5000, name=unique()
        )
    assert info.value.status_code == 400
    assert "real-time runtime cannot be higher" in info.value.explanation


# --- pids, blkio --------------------------------------------------------------------------------


def test_pids_limit(client, track):
    c = track.run_bg(pids_limit=8)
    assert c.attrs["HostConfig"]["PidsLimit"] == 8
    assert cgroup_read(c, "pids", "pids.max") == "8"
    # The shell is one of the eight: it cannot fork twelve sleeps beside itself.
    script = "for i in $(seq 12); do sleep 1 & done; wait; echo all-forked"
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(BASE, ["sh", "-c", script], pids_limit=8, remove=True)
    assert b"can't fork" in info.value.stderr, info.value.stderr
    assert client.containers.run(BASE, ["sh", "-c", script], remove=True) == b"all-forked\n"


def test_pids_limit_unlimited_shows_null(api, track):
    c = sleeper(api, track, pids_limit=-1)
    assert api.inspect_container(c.id)["HostConfig"]["PidsLimit"] is None
    assert cgroup_read(c, "pids", "pids.max") == "max"


@needs_v1
def test_blkio_device_throttles(api, track):
    disk = first_disk()
    if disk is None:
        pytest.skip("the host has no whole block device to throttle")
    rdev = os.stat(disk).st_rdev
    dev = f"{os.major(rdev)}:{os.minor(rdev)}"
    c = sleeper(
        api,
        track,
        device_read_bps=[{"Path": disk, "Rate": 1048576}],
        device_write_bps=[{"Path": disk, "Rate": 2097152}],
        device_read_iops=[{"Path": disk, "Rate": 100}],
        device_write_iops=[{"Path": disk, "Rate": 200}],
    )
    hc = api.inspect_container(c.id)["HostConfig"]
    assert hc["BlkioDeviceReadBps"] == [{"Path": disk, "Rate": 1048576}]
    assert hc["BlkioDeviceWriteIOps"] == [{"Path": disk, "Rate": 200}]
    for name, rate in [
        ("blkio.throttle.read_bps_device", 1048576),
        ("blkio.throttle.write_bps_device", 2097152),
        ("blkio.throttle.read_iops_device", 100),
        ("blkio.throttle.write_iops_device", 200),
    ]:
        assert f"{dev} {rate}" in cgroup_read(c, "blkio", name).splitlines(), name


def test_blkio_throttle_of_a_missing_device_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE,
            ["true"],
            device_read_bps=[{"Path": "/dev/not-a-disk", "Rate": 1024}],
            name=unique(),
        )
    assert info.value.status_code == 400
    assert "/dev/not-a-disk" in info.value.explanation


@needs_v1
def test_blkio_weight(api, track):
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        host_config=api.create_host_config(blkio_weight=300),
    )
    track.container(resp["Id"])
    api.start(resp["Id"])
    c = track.client.containers.get(resp["Id"])
    weight_files = [
        f
        for f in ("blkio.weight", "blkio.bfq.weight")
        if os.path.exists(os.path.join("/sys/fs/cgroup/blkio", f))
    ]
    if weight_files:
        assert c.attrs["HostConfig"]["BlkioWeight"] == 300
        assert cgroup_read(c, "blkio", weight_files[0]).split()[-1] == "300"
    else:
        # As dockerd on a kernel without I/O weights: a warning, and the weight dropped.
        assert any("Block I/O weight" in w for w in resp.get("Warnings") or []), resp
        assert c.attrs["HostConfig"]["BlkioWeight"] == 0


# --- ulimits, shm -------------------------------------------------------------------------------


def test_ulimits(client):
    out = client.containers.run(
        BASE,
        ["sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u"],
        ulimits=[
            docker.types.Ulimit(name="nofile", soft=1024, hard=2048),
            docker.types.Ulimit(name="nproc", soft=333, hard=333),
        ],
        remove=True,
    )
    assert out.split() == [b"1024", b"2048", b"333"]


def test_ulimits_in_inspect(api, track):
    c = sleeper(api, track, ulimits=[docker.types.Ulimit(name="core", soft=0, hard=0)])
    assert api.inspect_container(c.id)["HostConfig"]["Ulimits"] == [
        {"Name": "core", "Soft": 0, "Hard": 0}
    ]
    with open(f"/proc/{c.attrs['State']['Pid']}/limits") as f:
        core = [line for line in f if line.startswith("Max core file size")]
    assert core and core[0].split()[4:6] == ["0", "0"], core


def test_exec_inherits_ulimits_and_oom_score(track):
    # As dockerd: an exec runs with the container's process settings.
    c = track.run_bg(
        ulimits=[docker.types.Ulimit(name="nofile", soft=777, hard=888)], oom_score_adj=123
    )
    code, out = c.exec_run(["sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj"])
    assert (code, out.split()) == (0, [b"777", b"888", b"123"])


def test_ulimit_soft_above_hard_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE,
            ["true"],
            ulimits=[docker.types.Ulimit(name="nofile", soft=4096, hard=1024)],
            name=unique(),
        )
    assert info.value.status_code == 400


def test_shm_size(client, track):
    out = client.containers.run(
        BASE, ["sh", "-c", "grep ' /dev/shm ' /proc/mounts"], shm_size="24m", remove=True
    )
    assert b"size=24576k" in out, out
    c = track.create(shm_size=8 * MIB)
    assert c.attrs["HostConfig"]["ShmSize"] == 8 * MIB
    # The default is 64 MiB.
    out = client.containers.run(BASE, ["sh", "-c", "grep ' /dev/shm ' /proc/mounts"], remove=True)
    assert b"size=65536k" in out, out


def test_storage_opt_is_refused_without_quota_support(client):
    # dockerd's overlay2 takes `size` only on xfs with project quotas; berth has no quotas.
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], storage_opt={"size": "120G"}, name=name)
    assert info.value.status_code in (400, 500)
    assert "storage-opt" in info.value.explanation.lower()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


# --- update -------------------------------------------------------------------------------------


@needs_v1
def test_update_memory_of_a_running_container(api, track):
    c = sleeper(api, track, mem_limit=400 * MIB)
    api.update_container(c.id, mem_limit=300 * MIB, memswap_limit=600 * MIB)
    hc = api.inspect_container(c.id)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"]) == (300 * MIB, 600 * MIB)
    assert int(cgroup_read(c, "memory", "memory.limit_in_bytes")) == 300 * MIB
    assert int(cgroup_read(c, "memory", "memory.memsw.limit_in_bytes")) == 600 * MIB


@needs_v1
def test_update_through_the_model(track):
    c = track.run_bg(cpu_shares=2)
    assert c.attrs["HostConfig"]["CpuShares"] == 2
    assert cgroup_read(c, "cpu", "cpu.shares") == "2"
    resp = c.update(cpu_shares=3, cpu_quota=20000, cpu_period=100000)
    assert resp.get("Warnings") in (None, [])
    c.reload()
    hc = c.attrs["HostConfig"]
    assert (hc["CpuShares"], hc["CpuQuota"]) == (3, 20000)
    assert cgroup_read(c, "cpu", "cpu.shares") == "3"
    assert cgroup_read(c, "cpu", "cpu.cfs_quota_us") == "20000"


@needs_v1
def test_update_cpuset_and_reservation(api, track):
    c = sleeper(api, track, mem_limit="128m")
    api.update_container(c.id, cpuset_cpus="0", cpuset_mems="0", mem_reservation="40m")
    hc = api.inspect_container(c.id)["HostConfig"]
    assert (hc["CpusetCpus"], hc["CpusetMems"]) == ("0", "0")
    assert hc["MemoryReservation"] == 40 * MIB
    assert cgroup_read(c, "cpuset", "cpuset.cpus") == "0"
    assert int(cgroup_read(c, "memory", "memory.soft_limit_in_bytes")) == 40 * MIB
    code, out = c.exec_run(["grep", "Cpus_allowed_list", "/proc/self/status"])
    assert out.split()[-1] == b"0", out


def test_update_blkio_weight(api, track):
    c = sleeper(api, track)
    resp = api.update_container(c.id, blkio_weight=300)
    weight = api.inspect_container(c.id)["HostConfig"]["BlkioWeight"]
    if cgroup_v2() or any(
        os.path.exists(f"/sys/fs/cgroup/blkio/{f}") for f in ("blkio.weight", "blkio.bfq.weight")
    ):
        assert weight == 300
    else:
        # As dockerd: a warning, and the weight is not kept.
        assert any("Block I/O weight" in w for w in resp.get("Warnings") or []), resp
        assert weight == 0


def test_update_of_a_stopped_container_applies_at_start(track):
    c = track.create(["sleep", "300"])
    c.update(mem_limit="40m", memswap_limit="40m")
    c.reload()
    assert c.attrs["HostConfig"]["Memory"] == 40 * MIB
    c.start()
    if not cgroup_v2():
        assert int(cgroup_read(c, "memory", "memory.limit_in_bytes")) == 40 * MIB


def test_update_unknown_container_is_not_found(api):
    with pytest.raises(docker.errors.NotFound):
        api.update_container("no-such-container-" + unique(), mem_limit="10m")


def test_update_memory_above_the_swap_limit_conflicts(track):
    c = track.run_bg(mem_limit="64m", memswap_limit="128m")
    with pytest.raises(docker.errors.APIError) as info:
        c.update(mem_limit="256m")
    # dockerd answers 409 (conflicting update options), and the limits stay.
    assert info.value.status_code == 409
    assert "Memory limit should be smaller than already set memoryswap limit" in (
        info.value.explanation
    )


# --- cgroup parent and namespace ----------------------------------------------------------------


@needs_v1
def test_cgroup_parent(client, track):
    # Under this daemon's own parent (found from a container of its), so that nothing of
    # the test is left beside other daemons' cgroups.
    probe = track.run_bg()
    own = os.path.dirname(cgroup_dir(probe, "memory")[len("/sys/fs/cgroup/memory"):])
    custom = f"{own}/dpy-parent-{unique()}"
    c = track.run_bg(cgroup_parent=custom, mem_limit="24m")
    try:
        assert c.attrs["HostConfig"]["CgroupParent"] == custom
        assert cgroup_dir(c, "memory") == f"/sys/fs/cgroup/memory{custom}/{c.id}"
        assert int(cgroup_read(c, "memory", "memory.limit_in_bytes")) == 24 * MIB
        # Stats and update find the container's cgroup there too.
        assert client.api.stats(c.id, stream=False, one_shot=True)["memory_stats"]["limit"] == (
            24 * MIB
        )
        c.update(mem_limit="28m", memswap_limit="56m")
        assert int(cgroup_read(c, "memory", "memory.limit_in_bytes")) == 28 * MIB
    finally:
        c.remove(force=True)
        for root in os.listdir("/sys/fs/cgroup"):
            path = f"/sys/fs/cgroup/{root}{custom}"
            if os.path.isdir(path):
                for sub in sorted(os.listdir(path), reverse=True):
                    if os.path.isdir(f"{path}/{sub}"):
                        os.rmdir(f"{path}/{sub}")
                os.rmdir(path)


def test_cgroupns_private_and_host(api, client, track):
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        host_config=api.create_host_config(cgroupns="private"),
    )
    track.container(resp["Id"])
    assert api.inspect_container(resp["Id"])["HostConfig"]["CgroupnsMode"] == "private"
    # In its own cgroup namespace the container's cgroup is the root.
    out = client.containers.run(BASE, ["cat", "/proc/self/cgroup"], cgroupns="private", remove=True)
    assert all(line.endswith(b":/") for line in out.splitlines()), out
    out = client.containers.run(BASE, ["cat", "/proc/self/cgroup"], cgroupns="host", remove=True)
    assert any(len(line.split(b":", 2)[2]) > 1 for line in out.splitlines()), out


def test_kernel_memory_is_discarded_with_a_warning(api, track):
    resp = api.create_container(
        BASE,
        ["true"],
        name=unique(),
        host_config=api.create_host_config(kernel_memory="50m"),
    )
    track.container(resp["Id"])
    assert any("kernel memory limit" in w for w in resp["Warnings"] or []), resp


# --- dockerd's refusals, word for word ----------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"memswap_limit": "64m"},
         "You should always set the Memory limit when using Memoryswap limit, see usage"),
        ({"mem_limit": "64m", "memswap_limit": "32m"},
         "Minimum memoryswap limit should be larger than memory limit, see usage"),
        ({"mem_reservation": "1m"}, "Minimum memory reservation allowed is 6MB"),
        ({"mem_limit": "16m", "mem_reservation": "32m"},
         "Minimum memory limit can not be less than memory reservation limit, see usage"),
        ({"cpu_shares": -1}, "invalid CPU shares (-1): value must be a positive integer"),
        ({"shm_size": -1}, "SHM size can not be less than 0"),
        ({"cpu_period": 500}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                              "than 1s (i.e. 1000000)"),
        ({"cpu_quota": 500}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
        ({"blkio_weight": 5}, "Range of blkio weight is from 10 to 1000"),
    ],
)
def test_refused_like_dockerd(client, kwargs, message):
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], name=name, **kwargs)
    assert info.value.status_code == 400
    assert info.value.explanation == message
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)
