"""exec_run (exit code, output, demux, env, workdir, user, stream) and attach."""

import time

import docker
import pytest
from docker.utils.socket import next_frame_header, read_exactly

from conftest import BASE


def test_exec_exit_code_and_output(running):
    r = running.exec_run(["sh", "-c", "echo out; exit 3"])
    assert r.exit_code == 3
    assert r.output == b"out\n"
    ok = running.exec_run("echo hi")
    assert ok.exit_code == 0 and ok.output == b"hi\n"


def test_exec_demux(running):
    r = running.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert r.exit_code == 0
    assert r.output == (b"out\n", b"err\n")
    r = running.exec_run(["sh", "-c", "echo only-out"], demux=True)
    assert r.output == (b"only-out\n", None)


def test_exec_stdout_stderr_selection(running):
    cmd = ["sh", "-c", "echo out; echo err >&2"]
    assert running.exec_run(cmd, stdout=True, stderr=False).output == b"out\n"
    assert running.exec_run(cmd, stdout=False, stderr=True).output == b"err\n"


def test_exec_environment(running):
    r = running.exec_run(["sh", "-c", "echo $FOO-$BAR"], environment={"FOO": "f", "BAR": "b"})
    assert r.output == b"f-b\n"
    r = running.exec_run(["sh", "-c", "echo $FOO"], environment=["FOO=listform"])
    assert r.output == b"listform\n"


def test_exec_workdir(running):
    assert running.exec_run("pwd", workdir="/tmp").output == b"/tmp\n"
    assert running.exec_run("pwd").output == b"/\n"


def test_exec_user(running):
    assert running.exec_run("id -u", user="nobody").output == b"65534\n"
    assert running.exec_run(["sh", "-c", "id -u; id -g"], user="1000:1001").output == b"1000\n1001\n"
    assert running.exec_run("id -u").output == b"0\n"


def test_exec_tty(running):
    r = running.exec_run("echo tty", tty=True)
    assert r.exit_code == 0
    assert r.output == b"tty\r\n"


def test_exec_stream(running):
    r = running.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"], stream=True)
    assert r.exit_code is None
    assert b"".join(r.output) == b"1\n2\n3\n"


def test_exec_detach(running):
    r = running.exec_run(["sh", "-c", "sleep 0.2; touch /tmp/detached"], detach=True)
    assert not r.output  # docker-py returns the (empty) body text
    deadline = time.monotonic() + 10
    while running.exec_run("test -e /tmp/detached").exit_code != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_exec_low_level_inspect(api, running):
    ex = api.exec_create(running.id, ["sh", "-c", "exit 6"])
    info = api.exec_inspect(ex["Id"])
    assert info["Running"] is False
    assert info["ContainerID"] == running.id
    api.exec_start(ex["Id"])
    deadline = time.monotonic() + 10
    while True:
        info = api.exec_inspect(ex["Id"])
        if info["ExitCode"] is not None and not info["Running"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert info["ExitCode"] == 6
    assert info["ProcessConfig"]["entrypoint"] == "sh"


def test_exec_unknown_command(running):
    r = running.exec_run("no-such-binary-xyz")
    assert r.exit_code in (126, 127)


def test_exec_in_stopped_container_conflicts(track):
    c = track.create()
    with pytest.raises(docker.errors.APIError) as info:
        c.exec_run("true")
    assert info.value.status_code == 409


def test_attach_socket_reads_output(api, track):
    line = "hi there and stuff and things, words!"
    c = track.create(["printf", line])
    sock = api.attach_socket(c.id, params={"stdout": 1, "stream": 1, "logs": 1})
    try:
        c.start()
        stream, size = next_frame_header(sock)
        assert stream == 1
        assert size == len(line)
        assert read_exactly(sock, size).decode() == line
    finally:
        sock.close()


def test_attach_socket_stdin(api, track):
    c = track.create(["cat"], stdin_open=True)
    c.start()
    sock = api.attach_socket(c.id, params={"stdin": 1, "stdout": 1, "stream": 1})
    try:
        raw = getattr(sock, "_sock", sock)
        raw.sendall(b"ping-through-attach\n")
        stream, size = next_frame_header(sock)
        assert stream == 1
        assert read_exactly(sock, size) == b"ping-through-attach\n"
    finally:
        sock.close()
    c.kill()


def test_attach_no_stream_gets_logs(api, track):
    c = track.create(["echo", "hello"])
    c.start()
    c.wait(timeout=30)
    assert api.attach(c.id, stream=False, logs=True) == b"hello\n"


def test_attach_stream(client, track):
    c = track.create(["sh", "-c", "sleep 0.5; echo a; sleep 0.2; echo b"])
    c.start()
    out = b"".join(c.attach(stream=True, logs=True))
    assert out == b"a\nb\n"
