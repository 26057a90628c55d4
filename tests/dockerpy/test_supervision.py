"""Supervision through docker-py: restart policies (and their update), health checks,
pause/unpause, kill with signals, wait conditions, top, auto-remove.
"""

import signal
import threading
import time

import docker
import pytest
import requests

from conftest import BASE, cgroup_read, cgroup_v2, unique, wait_for

SECOND = 1_000_000_000


def state(api, cid):
    return api.inspect_container(cid)["State"]


# --- restart policies ---------------------------------------------------------------------------


def test_restart_policy_always_keeps_it_running(api, track):
    resp = api.create_container(
        BASE,
        ["sh", "-c", "sleep 1"],
        name=unique(),
        host_config=api.create_host_config(
            restart_policy={"Name": "always", "MaximumRetryCount": 0}, network_mode="none"
        ),
    )
    cid = track.container(resp["Id"])
    api.start(cid)
    assert api.wait(cid, timeout=30)["StatusCode"] == 0
    wait_for(lambda: api.inspect_container(cid)["RestartCount"] >= 1, what="a restart")
    wait_for(lambda: state(api, cid)["Running"], what="the restarted run")
    # As dockerd: a restarting/running container is not removed without force.
    with pytest.raises(docker.errors.APIError) as info:
        api.remove_container(cid)
    assert info.value.status_code == 409
    assert "stop the container before" in info.value.explanation.lower()
    api.remove_container(cid, force=True)


def test_restart_policy_on_failure_retries_then_gives_up(client, track):
    c = track.run_bg(
        ["sh", "-c", "exit 3"], restart_policy={"Name": "on-failure", "MaximumRetryCount": 2}
    )

    def settled():
        c.reload()
        return c.attrs["RestartCount"] == 2 and c.status == "exited"

    wait_for(settled, timeout=30, what="two restarts and a final exit")
    assert c.attrs["State"]["ExitCode"] == 3
    assert c.attrs["HostConfig"]["RestartPolicy"] == {
        "Name": "on-failure",
        "MaximumRetryCount": 2,
    }
    time.sleep(1.0)
    c.reload()
    assert c.attrs["RestartCount"] == 2 and c.status == "exited"


def test_restart_policy_on_failure_leaves_a_clean_exit(track):
    c = track.run_bg(["true"], restart_policy={"Name": "on-failure"})
    c.wait(timeout=30)
    time.sleep(0.5)
    c.reload()
    assert c.status == "exited" and c.attrs["RestartCount"] == 0


def test_unless_stopped_is_not_restarted_after_stop(track):
    c = track.run_bg(restart_policy={"Name": "unless-stopped"})
    c.stop(timeout=1)
    time.sleep(0.5)
    c.reload()
    assert c.status == "exited" and c.attrs["RestartCount"] == 0


TRAP_USR1 = ["sh", "-c", "trap 'exit 0' USR1; while :; do sleep 0.1; done"]


def test_a_signal_from_the_user_keeps_unless_stopped_down(track):
    # As dockerd: any kill counts as a manual stop for unless-stopped ...
    c = track.run_bg(TRAP_USR1, restart_policy={"Name": "unless-stopped"})
    time.sleep(0.3)
    c.kill(signal="SIGUSR1")
    assert c.wait(timeout=30)["StatusCode"] == 0
    time.sleep(0.5)
    c.reload()
    assert c.status == "exited" and c.attrs["RestartCount"] == 0


def test_a_signal_from_the_user_restarts_always(track):
    # ... while `always` restarts after it, unless the signal was SIGKILL or the stop signal.
    c = track.run_bg(TRAP_USR1, restart_policy={"Name": "always"})
    time.sleep(0.3)
    c.kill(signal="SIGUSR1")

    def restarted():
        c.reload()
        return c.attrs["RestartCount"] == 1 and c.status == "running"

    wait_for(restarted, what="the restart after SIGUSR1")
    c.kill()
    assert c.wait(timeout=30)["StatusCode"] == 137
    time.sleep(0.5)
    c.reload()
    assert c.status == "exited" and c.attrs["RestartCount"] == 1


def test_bad_restart_policy_is_refused(client):
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE, ["true"], restart_policy={"Name": "sometimes"}, name=name
        )
    assert info.value.status_code == 400
    assert "sometimes" in info.value.explanation
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE, ["true"], restart_policy={"Name": "always", "MaximumRetryCount": 3}, name=name
        )
    assert info.value.status_code == 400
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_auto_remove_with_a_restart_policy_is_refused(api, client):
    name = unique()
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container(
            BASE,
            ["true"],
            name=name,
            host_config=api.create_host_config(auto_remove=True, restart_policy={"Name": "always"}),
        )
    assert info.value.status_code == 400
    assert "can't create 'AutoRemove' container with restart policy" in info.value.explanation
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_restart_policy_update(api, track):
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        host_config=api.create_host_config(restart_policy={"Name": "always"}),
    )
    cid = track.container(resp["Id"])
    api.start(cid)
    api.update_container(cid, restart_policy={"Name": "on-failure", "MaximumRetryCount": 42})
    policy = api.inspect_container(cid)["HostConfig"]["RestartPolicy"]
    assert policy == {"Name": "on-failure", "MaximumRetryCount": 42}


def test_restart_policy_update_takes_effect(track):
    # Exits 1 after a second, with no policy: updated to on-failure:1 while it runs, the
    # exit brings one restart.
    c = track.run_bg(["sh", "-c", "sleep 1; exit 1"])
    c.update(restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})

    def restarted_once_and_done():
        c.reload()
        return c.attrs["RestartCount"] == 1 and c.status == "exited"

    wait_for(restarted_once_and_done, timeout=30, what="one restart after the update")


def test_restart_policy_update_refused_with_auto_remove(track):
    c = track.run_bg(auto_remove=True)
    with pytest.raises(docker.errors.APIError) as info:
        c.update(restart_policy={"Name": "always"})
    assert info.value.status_code == 409
    assert "AutoRemove" in info.value.explanation


# --- health checks ------------------------------------------------------------------------------


def test_healthcheck_shell_form_in_config(api, track):
    resp = api.create_container(
        BASE, ["sleep", "300"], name=unique(), healthcheck={"test": 'echo "hello world"'}
    )
    track.container(resp["Id"])
    hc = api.inspect_container(resp["Id"])["Config"]["Healthcheck"]
    assert hc["Test"] == ["CMD-SHELL", 'echo "hello world"']


def test_healthcheck_turns_healthy(api, track):
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        healthcheck={
            "test": ["CMD", "sh", "-c", "echo checked; true"],
            "interval": SECOND,
            "timeout": SECOND,
            "retries": 1,
        },
    )
    cid = track.container(resp["Id"])
    assert state(api, cid).get("Health") is None or state(api, cid)["Health"]["Status"] in (
        "starting",
        "",
    )
    api.start(cid)
    assert state(api, cid)["Health"]["Status"] == "starting"
    wait_for(lambda: state(api, cid)["Health"]["Status"] == "healthy", what="healthy")
    health = state(api, cid)["Health"]
    assert health["FailingStreak"] == 0
    last = health["Log"][-1]
    assert last["ExitCode"] == 0 and last["Output"] == "checked\n"
    assert last["Start"] <= last["End"]
    c = track.client.containers.get(cid)
    assert c.health == "healthy"
    assert [x.id for x in track.client.containers.list(filters={"health": "healthy"})] == [cid]


def test_healthcheck_turns_unhealthy(api, track):
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        healthcheck={"test": "exit 7", "interval": SECOND, "timeout": SECOND, "retries": 2},
    )
    cid = track.container(resp["Id"])
    api.start(cid)
    wait_for(lambda: state(api, cid)["Health"]["Status"] == "unhealthy", what="unhealthy")
    health = state(api, cid)["Health"]
    assert health["FailingStreak"] >= 2
    assert health["Log"][-1]["ExitCode"] == 7
    # Still running: docker only reports health.
    assert state(api, cid)["Running"] is True


def test_healthcheck_start_period(api, track):
    # A failure inside the start period is logged but does not count: still `starting`.
    # (Probes in the start period come every StartInterval, 5 s by default, as dockerd.)
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        healthcheck={
            "test": "echo failing; exit 1",
            "interval": SECOND,
            "timeout": SECOND,
            "retries": 1,
            "start_period": 60 * SECOND,
        },
    )
    cid = track.container(resp["Id"])
    assert api.inspect_container(cid)["Config"]["Healthcheck"]["StartPeriod"] == 60 * SECOND
    api.start(cid)
    wait_for(lambda: state(api, cid)["Health"]["Log"], timeout=20, what="a first probe")
    health = state(api, cid)["Health"]
    assert health["Status"] == "starting", health
    assert health["FailingStreak"] == 0
    assert health["Log"][0]["Output"] == "failing\n"


def test_healthcheck_timeout_counts_as_failure(api, track):
    resp = api.create_container(
        BASE,
        ["sleep", "300"],
        name=unique(),
        healthcheck={
            "test": ["CMD", "sleep", "10"],
            "interval": SECOND,
            "timeout": SECOND // 2,
            "retries": 1,
        },
    )
    cid = track.container(resp["Id"])
    api.start(cid)
    wait_for(lambda: state(api, cid)["Health"]["Status"] == "unhealthy", what="timed out")
    log = state(api, cid)["Health"]["Log"][-1]
    assert log["ExitCode"] == -1
    assert "timed out" in log["Output"].lower() or "exceeded" in log["Output"].lower()


def test_healthcheck_none_disables_the_image_check(api, track):
    resp = api.create_container(
        BASE, ["sleep", "300"], name=unique(), healthcheck={"test": ["NONE"]}
    )
    cid = track.container(resp["Id"])
    api.start(cid)
    assert api.inspect_container(cid)["Config"]["Healthcheck"]["Test"] == ["NONE"]
    assert state(api, cid).get("Health") is None


def test_healthcheck_bad_interval_is_refused(client):
    with pytest.raises(docker.errors.APIError) as info:
        client.containers.create(
            BASE, ["true"], healthcheck={"test": "true", "interval": 1000}, name=unique()
        )
    assert info.value.status_code == 400
    assert "Interval" in info.value.explanation


# --- pause, kill, wait, top ---------------------------------------------------------------------


def test_pause_and_unpause(api, track):
    c = track.run_bg(["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.05; done"])
    cid = c.id

    def count():
        # The shell truncates before it writes: an empty read is retried.
        return wait_for(lambda: c.exec_run(["cat", "/count"]).output.strip(), what="a count")

    count()
    api.pause(cid)
    s = state(api, cid)
    assert (s["Running"], s["Paused"], s["Status"], s["ExitCode"]) == (True, True, "paused", 0)
    if not cgroup_v2():
        assert cgroup_read(c, "freezer", "freezer.state") == "FROZEN"
    # Frozen: the counter stands still (read from the host, as exec needs a thawed cgroup).
    merged = api.inspect_container(cid)["GraphDriver"]["Data"].get("MergedDir")
    if merged:
        with open(f"{merged}/count") as f:
            before = f.read()
        time.sleep(0.4)
        with open(f"{merged}/count") as f:
            assert f.read() == before
    with pytest.raises(docker.errors.APIError) as info:
        api.pause(cid)
    assert info.value.status_code == 409
    api.unpause(cid)
    s = state(api, cid)
    assert (s["Running"], s["Paused"], s["Status"]) == (True, False, "running")
    first = int(count())
    wait_for(lambda: int(count()) > first, what="counting again")


def test_pause_through_the_model(track):
    c = track.run_bg()
    c.pause()
    c.reload()
    assert c.status == "paused"
    c.unpause()
    c.reload()
    assert c.status == "running"


def test_unpause_of_a_running_container_conflicts(api, running):
    with pytest.raises(docker.errors.APIError) as info:
        api.unpause(running.id)
    assert info.value.status_code == 409


@pytest.mark.parametrize("sig", [signal.SIGKILL, "SIGKILL", "KILL", 9])
def test_kill_with_signal_forms(api, track, sig):
    c = track.run_bg()
    api.kill(c.id, signal=sig)
    assert api.wait(c.id, timeout=30)["StatusCode"] == 137
    s = state(api, c.id)
    assert s["Running"] is False and s["ExitCode"] == 137


def test_kill_with_a_caught_signal(track):
    c = track.run_bg(["sh", "-c", "trap 'echo got-usr1; exit 0' USR1; while :; do sleep 0.1; done"])
    wait_for(lambda: c.exec_run(["true"]).exit_code == 0, what="running")
    time.sleep(0.3)
    c.kill(signal="SIGUSR1")
    assert c.wait(timeout=30)["StatusCode"] == 0
    assert b"got-usr1" in c.logs()


def test_kill_with_unknown_signal_is_refused(api, running):
    with pytest.raises(docker.errors.APIError) as info:
        api.kill(running.id, signal="SIGNOPE")
    assert info.value.status_code == 400


def test_kill_of_a_stopped_container_conflicts(api, track):
    c = track.create()
    with pytest.raises(docker.errors.APIError) as info:
        api.kill(c.id)
    assert info.value.status_code == 409


def test_wait_condition_removed(api, track):
    resp = api.create_container(BASE, ["true"], name=unique())
    track.container(resp["Id"])
    # A container that is never removed: the wait only ends with the client's timeout.
    with pytest.raises(requests.exceptions.ConnectionError):
        api.wait(resp["Id"], condition="removed", timeout=1)
    resp = api.create_container(
        BASE,
        ["sh", "-c", "sleep 1; exit 2"],
        name=unique(),
        host_config=api.create_host_config(auto_remove=True),
    )
    track.container(resp["Id"])
    api.start(resp["Id"])
    assert api.wait(resp["Id"], condition="removed", timeout=30)["StatusCode"] == 2
    with pytest.raises(docker.errors.NotFound):
        api.inspect_container(resp["Id"])


def test_wait_next_exit_waits_for_the_run_after(api, track):
    c = track.create(["sh", "-c", "exit 6"])
    c.start()
    c.wait(timeout=30)

    result = {}
    t = threading.Thread(
        target=lambda: result.update(api.wait(c.id, condition="next-exit", timeout=30))
    )
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "next-exit must wait for the next run, not report the last"
    c.start()
    t.join(timeout=30)
    assert result["StatusCode"] == 6


def test_top_low_level_and_model(api, track):
    c = track.run_bg(["sleep", "60"])
    c.reload()
    res = api.top(c.id)
    assert res["Titles"][-1] == "CMD" or res["Titles"][-1] == "COMMAND"
    assert len(res["Processes"]) == 1
    assert res["Processes"][0][-1] == "sleep 60"
    pid_col = res["Titles"].index("PID")
    assert int(res["Processes"][0][pid_col]) == c.attrs["State"]["Pid"]
    top = c.top(ps_args="-o pid,comm")
    assert top["Titles"] == ["PID", "COMMAND"]
    assert top["Processes"] == [[str(c.attrs["State"]["Pid"]), "sleep"]]


def test_auto_remove_with_error_output(client):
    name = unique()
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run(
            BASE, ["sh", "-c", "echo bad >&2; sleep 1; exit 1"], auto_remove=True, name=name
        )
    assert info.value.exit_status == 1
    # With auto_remove the logs may be gone already: docker-py does not read them.
    assert info.value.stderr is None

    def gone():
        listed = client.containers.list(all=True, ignore_removed=True)
        return name not in [c.name for c in listed]

    wait_for(gone, what="the container removed")


def test_auto_remove_in_inspect(api, track):
    resp = api.create_container(
        BASE, ["echo", "test"], name=unique(), host_config=api.create_host_config(auto_remove=True)
    )
    track.container(resp["Id"])
    assert api.inspect_container(resp["Id"])["HostConfig"]["AutoRemove"] is True
