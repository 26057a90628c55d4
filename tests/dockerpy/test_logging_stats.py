"""Logging drivers and stats through docker-py: log_config (valid, unknown, empty type,
no config, none, json-file options and rotation), and the stats API (one-shot, stream,
one-shot without a CPU sample, the model's stats) compared with the container's cgroup.
"""

import json
import os
import time

import docker
import pytest

from conftest import BASE, cgroup_read, cgroup_v2, unique, wait_for

MIB = 1024 * 1024
STATS_KEYS = ["read", "preread", "networks", "precpu_stats", "cpu_stats", "memory_stats",
              "blkio_stats", "pids_stats"]


def create_with_log_config(api, track, log_config, command=("true",)):
    resp = api.create_container(
        BASE,
        list(command),
        name=unique(),
        host_config=api.create_host_config(log_config=log_config),
    )
    return track.container(resp["Id"])


# --- log_config ---------------------------------------------------------------------------------


def test_json_file_with_options(api, track):
    lc = docker.types.LogConfig(type="json-file", config={"max-file": "100"})
    cid = create_with_log_config(api, track, lc, ["echo", "logged"])
    api.start(cid)
    assert api.wait(cid, timeout=30)["StatusCode"] == 0
    info = api.inspect_container(cid)
    assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "100"}}
    # The file docker promises in LogPath, one JSON object per line.
    with open(info["LogPath"]) as f:
        entry = json.loads(f.readline())
    assert entry["log"] == "logged\n" and entry["stream"] == "stdout" and entry["time"]
    assert api.logs(cid) == b"logged\n"


def test_unknown_log_driver_is_refused(api, client):
    name = unique()
    lc = docker.types.LogConfig(type="asdf", config={})
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container(
            BASE, ["true"], name=name, host_config=api.create_host_config(log_config=lc)
        )
    assert info.value.status_code == 400
    assert info.value.explanation == "logger: no log driver named 'asdf' is registered"
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_unknown_log_option_is_refused(api):
    lc = docker.types.LogConfig(type="json-file", config={"no-such-opt": "1"})
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container(
            BASE, ["true"], name=unique(), host_config=api.create_host_config(log_config=lc)
        )
    assert info.value.status_code == 400
    assert "no-such-opt" in info.value.explanation


def test_empty_type_means_the_default_driver(api, track):
    lc = docker.types.LogConfig(type="", config={"max-file": "100"})
    cid = create_with_log_config(api, track, lc)
    api.start(cid)
    lc_seen = api.inspect_container(cid)["HostConfig"]["LogConfig"]
    assert lc_seen["Type"] == "json-file"
    assert lc_seen["Config"] == {"max-file": "100"}


def test_no_config_gives_an_empty_map(api, track):
    lc = docker.types.LogConfig(type="json-file", config=None)
    cid = create_with_log_config(api, track, lc)
    api.start(cid)
    assert api.inspect_container(cid)["HostConfig"]["LogConfig"] == {
        "Type": "json-file",
        "Config": {},
    }


def test_none_driver_run_returns_none(client):
    out = client.containers.run(BASE, ["echo", "hello"], log_config={"type": "none"}, remove=True)
    assert out is None


def test_none_driver_keeps_no_logs(client, track):
    c = track.run_bg(["echo", "hello"], log_config={"type": "none"})
    c.wait(timeout=30)
    c.reload()
    assert c.attrs["HostConfig"]["LogConfig"]["Type"] == "none"
    assert c.attrs["LogPath"] == ""
    with pytest.raises(docker.errors.APIError) as info:
        c.logs()
    assert info.value.status_code == 501
    assert "configured logging driver does not support reading" in info.value.explanation


def test_json_file_driver_run_returns_output(client):
    out = client.containers.run(
        BASE, ["echo", "hello"], log_config={"type": "json-file"}, remove=True
    )
    assert out == b"hello\n"


def test_local_driver_keeps_logs_without_a_log_path(client, track):
    # docker-py's run() reads output only for json-file and journald: read it with logs().
    c = track.run_bg(["sh", "-c", "echo one; echo two >&2"], log_config={"type": "local"})
    assert c.wait(timeout=30)["StatusCode"] == 0
    c.reload()
    assert c.attrs["HostConfig"]["LogConfig"]["Type"] == "local"
    assert c.attrs["LogPath"] == ""
    assert c.logs(stdout=True, stderr=False) == b"one\n"
    assert c.logs(stdout=False, stderr=True) == b"two\n"


def test_json_file_rotation_keeps_max_file(client, track):
    # About 200 KiB of lines with 10 KiB files and three kept: the oldest are dropped.
    script = "i=0; while [ $i -lt 2000 ]; do echo line-$i-padding-padding-padding-padding-padding-padding-padding-padding; i=$((i+1)); done"
    c = track.run_bg(
        ["sh", "-c", script],
        log_config={"type": "json-file", "config": {"max-size": "10k", "max-file": "3"}},
    )
    assert c.wait(timeout=60)["StatusCode"] == 0
    c.reload()
    log_path = c.attrs["LogPath"]
    files = sorted(f for f in os.listdir(os.path.dirname(log_path))
                   if f.startswith(os.path.basename(log_path)))
    assert len(files) == 3, files
    for f in files:
        assert os.path.getsize(os.path.join(os.path.dirname(log_path), f)) <= 12 * 1024
    lines = c.logs().splitlines()
    assert lines[-1].startswith(b"line-1999-")
    assert not lines[0].startswith(b"line-0-")  # rotated away
    numbers = [int(x.split(b"-")[1]) for x in lines]
    assert numbers == list(range(numbers[0], 2000))  # what is kept is whole and in order


def test_bad_rotation_option_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE,
            ["true"],
            log_config={"type": "json-file", "config": {"max-size": "lots"}},
            name=unique(),
        )
    assert info.value.status_code == 400


# --- stats --------------------------------------------------------------------------------------


def test_stats_one_shot_decoded(api, track):
    c = track.run_bg(["sleep", "300"], mem_limit="64m")
    stats = api.stats(c.id, stream=False)
    assert isinstance(stats, dict)
    for key in STATS_KEYS:
        assert key in stats, key
    assert stats["id"] == c.id and stats["name"] == "/" + c.name
    mem = stats["memory_stats"]
    assert mem["usage"] > 0
    assert mem["limit"] == 64 * MIB
    if not cgroup_v2():
        assert "total_inactive_file" in mem["stats"]
        assert mem["usage"] <= int(cgroup_read(c, "memory", "memory.usage_in_bytes")) * 2
    assert stats["pids_stats"]["current"] >= 1
    cpu = stats["cpu_stats"]
    assert cpu["online_cpus"] == os.cpu_count()
    assert cpu["cpu_usage"]["total_usage"] > 0
    assert cpu["system_cpu_usage"] > 0
    # Without one-shot, the first answer carries a previous sample ~1 s earlier.
    assert stats["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert stats["read"] > stats["preread"]
    assert "eth0" in stats["networks"]


def test_stats_keys_as_dockerd_gives_them(api, track):
    c = track.run_bg(["sleep", "300"], mem_limit="64m", pids_limit=50, cpu_quota=50000)
    s = api.stats(c.id, stream=False, one_shot=True)
    assert s["pids_stats"] == {"current": 1, "limit": 50}
    assert set(s["cpu_stats"]["throttling_data"]) == {
        "periods", "throttled_periods", "throttled_time"
    }
    assert s["num_procs"] == 0
    assert "io_service_bytes_recursive" in s["blkio_stats"]
    if not cgroup_v2():
        mem = s["memory_stats"]
        assert mem["max_usage"] >= mem["usage"] > 0
        assert "failcnt" in mem
        assert mem["stats"]["hierarchical_memory_limit"] == 64 * MIB
        assert len(s["cpu_stats"]["cpu_usage"]["percpu_usage"]) >= 1


def test_stats_one_shot_has_no_previous_sample(api, running):
    t0 = time.monotonic()
    stats = api.stats(running.id, stream=False, one_shot=True)
    assert time.monotonic() - t0 < 1.0
    assert stats["memory_stats"]["usage"] > 0
    assert stats["precpu_stats"].get("cpu_usage", {}).get("total_usage", 0) == 0
    assert stats["preread"].startswith("0001-01-01")


def test_stats_stream_decoded(api, track):
    c = track.run_bg(["sh", "-c", "while :; do :; done"])
    stream = api.stats(c.id, stream=True, decode=True)
    samples = []
    try:
        for chunk in stream:
            samples.append(chunk)
            if len(samples) == 3:
                break
    finally:
        stream.close()
    for s in samples:
        assert isinstance(s, dict)
        for key in STATS_KEYS:
            assert key in s, key
    # Each sample's previous sample is the one before it, and a busy loop uses CPU.
    assert samples[2]["precpu_stats"]["cpu_usage"]["total_usage"] == (
        samples[1]["cpu_stats"]["cpu_usage"]["total_usage"]
    )
    delta = (samples[2]["cpu_stats"]["cpu_usage"]["total_usage"]
             - samples[1]["cpu_stats"]["cpu_usage"]["total_usage"])
    assert delta > 100_000_000  # more than 0.1 s of CPU in a ~1 s interval


def test_stats_stream_raw_lines(api, running):
    stream = api.stats(running.id, stream=True, decode=False)
    try:
        first = next(iter(stream))
    finally:
        stream.close()
    assert isinstance(first, bytes)
    assert json.loads(first)["id"] == running.id


def test_stats_through_the_model(track):
    c = track.run_bg(["sleep", "100"])
    stats = c.stats(stream=False)
    for key in ["read", "networks", "precpu_stats", "cpu_stats", "memory_stats", "blkio_stats"]:
        assert key in stats
    assert stats["pids_stats"]["current"] == 1


def test_stats_of_a_stopped_container(api, track):
    c = track.create(["true"])
    stats = api.stats(c.id, stream=False)
    assert stats["id"] == c.id
    assert stats["memory_stats"] == {}
    assert stats["pids_stats"] == {}


def test_stats_memory_follows_an_allocation(api, track):
    c = track.run_bg(["sleep", "300"])
    before = api.stats(c.id, stream=False, one_shot=True)["memory_stats"]["usage"]
    # 32 MiB in a tmpfs file is charged to the container's memory cgroup.
    code, _ = c.exec_run(["sh", "-c", "head -c 33554432 /dev/zero > /dev/shm/fill"])
    assert code == 0
    after = api.stats(c.id, stream=False, one_shot=True)["memory_stats"]["usage"]
    assert after - before >= 30 * MIB, (before, after)


def test_stats_unknown_container(api):
    with pytest.raises(docker.errors.NotFound):
        api.stats("no-such-" + unique(), stream=False)
