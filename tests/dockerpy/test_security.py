"""Security settings through docker-py: capabilities, privileged, devices and device rules,
security options (seccomp, no-new-privileges), read-only root, group_add, sysctls, init.

What is checked is what the process inside gets (its capability masks, /proc/self/status,
what the kernel lets it do) and the device rules of its cgroup on the host.
"""

import os

import docker
import pytest

from conftest import BASE, cgroup_read, cgroup_v2, unique

CAP_CHOWN = 0
CAP_NET_RAW = 13
CAP_SYS_ADMIN = 21
CAP_SYS_TIME = 25


def status_field(out, field):
    for line in out.decode().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{field} missing from {out!r}")


def cap_eff(client, **kwargs):
    out = client.containers.run(BASE, ["cat", "/proc/self/status"], remove=True, **kwargs)
    return int(status_field(out, "CapEff"), 16)


# --- capabilities -----------------------------------------------------------------------------


def test_cap_add_and_drop_in_inspect_and_masks(api, track):
    resp = api.create_container(
        BASE,
        ["cat", "/proc/self/status"],
        name=unique(),
        host_config=api.create_host_config(cap_add=["SYS_TIME"], cap_drop=["NET_RAW"]),
    )
    track.container(resp["Id"])
    hc = api.inspect_container(resp["Id"])["HostConfig"]
    assert hc["CapAdd"] == ["SYS_TIME"] and hc["CapDrop"] == ["NET_RAW"]
    api.start(resp["Id"])
    assert api.wait(resp["Id"])["StatusCode"] == 0
    eff = int(status_field(api.logs(resp["Id"]), "CapEff"), 16)
    assert eff & (1 << CAP_SYS_TIME)
    assert not eff & (1 << CAP_NET_RAW)
    assert eff & (1 << CAP_CHOWN)


def test_cap_drop_all_then_add_one(client):
    eff = cap_eff(client, cap_drop=["ALL"], cap_add=["CHOWN"])
    assert eff == 1 << CAP_CHOWN
    assert cap_eff(client, cap_drop=["ALL"]) == 0


def test_cap_dropped_stops_the_operation(client):
    cmd = ["sh", "-c", "touch /f && chown 12:12 /f && echo done"]
    assert client.containers.run(BASE, cmd, remove=True) == b"done\n"
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(BASE, cmd, cap_drop=["CAP_CHOWN"], remove=True)
    assert b"Operation not permitted" in info.value.stderr


def test_unknown_capability_is_refused(client):
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], cap_add=["NOT_A_CAP"], name=name)
    assert info.value.status_code == 400
    assert "unknown capability" in info.value.explanation
    assert "CAP_NOT_A_CAP" in info.value.explanation
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_privileged_sees_host_devices_and_writable_sys(client):
    out = client.containers.run(
        BASE,
        ["sh", "-c", "grep CapEff /proc/self/status; ls /dev | wc -l; grep ' /sys ' /proc/mounts"],
        privileged=True,
        remove=True,
    )
    lines = out.decode().splitlines()
    eff = int(lines[0].split()[1], 16)
    assert eff & (1 << CAP_SYS_ADMIN)
    assert int(lines[1]) > 20, out  # the host's devices, not docker's handful
    assert " rw," in lines[2], out
    plain = client.containers.run(BASE, ["sh", "-c", "grep ' /sys ' /proc/mounts"], remove=True)
    assert b" ro," in plain, plain


# --- devices ----------------------------------------------------------------------------------


def test_devices_mapping(client, track):
    c = track.run_bg(devices=["/dev/null:/dev/mynull:rwm"])
    assert c.attrs["HostConfig"]["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rwm"}
    ]
    code, out = c.exec_run(["sh", "-c", "echo x > /dev/mynull && stat -c '%t:%T' /dev/mynull"])
    assert (code, out) == (0, b"1:3\n")


def test_device_read_only_permission(client):
    if not os.path.exists("/dev/kmsg"):
        pytest.skip("the host has no /dev/kmsg")
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(
            BASE, ["sh", "-c", "echo hi > /dev/ro"], devices=["/dev/kmsg:/dev/ro:r"], remove=True
        )
    assert b"Operation not permitted" in info.value.stderr


def test_missing_device_is_refused(client):
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], devices=["/dev/not-here-at-all"], name=name)
    assert info.value.status_code in (400, 500)
    assert "/dev/not-here-at-all" in info.value.explanation
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_device_cgroup_rules(api, client, track):
    rule = "c 7:128 rwm"
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        host_config=api.create_host_config(device_cgroup_rules=[rule]),
    )
    track.container(resp["Id"])
    assert api.inspect_container(resp["Id"])["HostConfig"]["DeviceCgroupRules"] == [rule]
    api.start(resp["Id"])
    c = client.containers.get(resp["Id"])
    if not cgroup_v2():
        assert rule in cgroup_read(c, "devices", "devices.list").splitlines()
    # The rule lets the container open a node it made; without it the cgroup says no.
    probe = "mknod /dev/vcsa-probe c 7 128 && (cat /dev/vcsa-probe >/dev/null) 2>&1; true"
    code, out = c.exec_run(["sh", "-c", probe])
    assert b"Operation not permitted" not in out, out
    plain = track.run_bg()
    code, out = plain.exec_run(["sh", "-c", probe])
    assert b"Operation not permitted" in out, out


def test_bad_device_cgroup_rule_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE, ["true"], device_cgroup_rules=["x 1:2 rwm"], name=unique()
        )
    assert info.value.status_code == 400


# --- security options ---------------------------------------------------------------------------


def test_security_opt_no_new_privileges(client, track):
    out = client.containers.run(
        BASE, ["cat", "/proc/self/status"], security_opt=["no-new-privileges"], remove=True
    )
    assert status_field(out, "NoNewPrivs") == "1"
    out = client.containers.run(BASE, ["cat", "/proc/self/status"], remove=True)
    assert status_field(out, "NoNewPrivs") == "0"
    c = track.create(security_opt=["no-new-privileges:true"])
    assert c.attrs["HostConfig"]["SecurityOpt"] == ["no-new-privileges:true"]


def test_exec_inherits_no_new_privileges(track):
    c = track.run_bg(security_opt=["no-new-privileges=true"])
    code, out = c.exec_run(["cat", "/proc/self/status"])
    assert code == 0 and status_field(out, "NoNewPrivs") == "1"


def test_seccomp_default_and_unconfined(client):
    out = client.containers.run(BASE, ["cat", "/proc/self/status"], remove=True)
    assert status_field(out, "Seccomp") == "2"  # filter mode: docker's default profile
    out = client.containers.run(
        BASE, ["cat", "/proc/self/status"], security_opt=["seccomp=unconfined"], remove=True
    )
    assert status_field(out, "Seccomp") == "0"


def test_seccomp_default_profile_blocks_a_syscall(client):
    # A user namespace needs no capability; only docker's default profile refuses it
    # (unless CAP_SYS_ADMIN was added, which the profile allows to unshare).
    cmd = ["unshare", "-U", "true"]
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(BASE, cmd, remove=True)
    assert b"Operation not permitted" in info.value.stderr
    client.containers.run(BASE, cmd, security_opt=["seccomp=unconfined"], remove=True)
    client.containers.run(BASE, cmd, cap_add=["SYS_ADMIN"], remove=True)


def test_seccomp_profile_given_inline(client):
    profile = (
        '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ['
        '{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
    )
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(
            BASE, ["mkdir", "/made"], security_opt=[f"seccomp={profile}"], remove=True
        )
    assert b"Operation not permitted" in info.value.stderr


def test_bad_seccomp_profile_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE, ["true"], security_opt=["seccomp=/no/such/profile.json"], name=unique()
        )
    assert info.value.status_code == 400


# --- root filesystem, users, sysctls, init ------------------------------------------------------


def test_read_only_with_tmpfs_for_scratch(client):
    out = client.containers.run(
        BASE,
        ["sh", "-c", "touch /x 2>&1; touch /scratch/y && echo scratch-ok"],
        read_only=True,
        tmpfs={"/scratch": "size=1m"},
        remove=True,
    )
    assert b"Read-only file system" in out, out
    assert b"scratch-ok" in out, out


def test_group_add_ints_and_strings(client):
    out = client.containers.run(BASE, ["id", "-G"], group_add=[1000, 1001], remove=True)
    assert {"1000", "1001"} <= set(out.decode().split())
    out = client.containers.run(BASE, ["id", "-G"], group_add=["2000", "2001"], remove=True)
    assert {"2000", "2001"} <= set(out.decode().split())


def test_group_add_by_name(client, api, track):
    # The image's /etc/group has nogroup (65534); a name is looked up there.
    out = client.containers.run(BASE, ["id", "-G"], group_add=["nogroup"], remove=True)
    assert "65534" in out.decode().split(), out
    resp = api.create_container(
        BASE, ["true"], name=unique(), host_config=api.create_host_config(group_add=["1000"])
    )
    track.container(resp["Id"])
    assert api.inspect_container(resp["Id"])["HostConfig"]["GroupAdd"] == ["1000"]


def test_group_add_unknown_name_fails_at_start(client, track):
    c = track.create(["true"], group_add=["no-such-group"])
    with pytest.raises(docker.errors.APIError) as info:
        c.start()
    assert "no-such-group" in info.value.explanation


def test_sysctls(client, track):
    out = client.containers.run(
        BASE,
        ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/msgmax"],
        sysctls={"net.ipv4.ip_unprivileged_port_start": "80", "kernel.msgmax": "65536"},
        remove=True,
    )
    assert out.split() == [b"80", b"65536"]
    c = track.create(sysctls={"net.core.somaxconn": "1024"})
    assert c.attrs["HostConfig"]["Sysctls"] == {"net.core.somaxconn": "1024"}


def test_host_wide_sysctl_is_refused(client):
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(BASE, ["true"], sysctls={"vm.swappiness": "10"}, name=name)
    assert info.value.status_code == 400
    assert "vm.swappiness" in info.value.explanation
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_network_sysctl_needs_own_network_namespace(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE,
            ["true"],
            network_mode="host",
            sysctls={"net.core.somaxconn": "1024"},
            name=unique(),
        )
    assert info.value.status_code == 400


def test_init_reaps_and_is_pid_one(api, track):
    resp = api.create_container(
        BASE, ["sleep", "300"], name=unique(), host_config=api.create_host_config(init=True)
    )
    track.container(resp["Id"])
    assert api.inspect_container(resp["Id"])["HostConfig"]["Init"] is True
    api.start(resp["Id"])
    c = track.client.containers.get(resp["Id"])
    code, out = c.exec_run(["cat", "/proc/1/cmdline"])
    assert code == 0 and not out.startswith(b"sleep"), out
    # The init passes signals on: a stop ends `sleep` at once, with its signal's status.
    c.stop(timeout=10)
    assert api.wait(c.id)["StatusCode"] == 143


def test_security_opt_forms(client):
    for opt in ["no-new-privileges=true", "no-new-privileges:true"]:
        out = client.containers.run(BASE, ["cat", "/proc/self/status"], security_opt=[opt], remove=True)
        assert status_field(out, "NoNewPrivs") == "1", opt
    out = client.containers.run(
        BASE,
        ["cat", "/proc/self/status"],
        security_opt=["no-new-privileges", "no-new-privileges=false", "label=disable",
                      "apparmor=unconfined"],
        remove=True,
    )
    assert status_field(out, "NoNewPrivs") == "0"


def test_unknown_security_opt_is_refused(client):
    for opt, message in [
        ("bogus", 'invalid --security-opt 1: "bogus"'),
        ("foo=bar", 'invalid --security-opt 2: "foo=bar"'),
        ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
    ]:
        name = unique()
        with pytest.raises(docker.errors.APIError) as info:
            client.containers.create(BASE, ["true"], security_opt=[opt], name=name)
        assert info.value.explanation == message
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(name)
