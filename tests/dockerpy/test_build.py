"""Builds through docker-py: images.build and APIClient.build with a file
object, a path, build args, labels, target, nocache, a custom gzip context,
errors, and prune_builds."""

import io
import json
import os
import tarfile

import docker
import pytest

from conftest import BASE, unique


def dockerfile_obj(text):
    return io.BytesIO(text.encode())


def test_build_from_fileobj(client, track):
    tag = unique("dpy-build") + ":v1"
    image, logs = client.images.build(
        fileobj=dockerfile_obj(f"FROM {BASE}\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n"),
        tag=tag,
        rm=True,
    )
    track.image(tag)
    logs = list(logs)
    assert tag in image.tags
    text = "".join(l.get("stream", "") for l in logs)
    assert "Step 1/3 : FROM busybox:latest" in text
    assert "Successfully built" in text
    assert any("aux" in l for l in logs)
    out = client.containers.run(tag, remove=True)
    assert out == b"built\n"


def test_build_path_with_args_labels_and_dockerignore(client, track, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE}\nARG GREETING=hi\nENV GREETING=$GREETING\nCOPY . /ctx/\n"
    )
    (tmp_path / "kept.txt").write_text("kept\n")
    (tmp_path / "ignored.txt").write_text("ignored\n")
    (tmp_path / ".dockerignore").write_text("ignored.txt\n")
    tag = unique("dpy-build-path")
    image, _ = client.images.build(
        path=str(tmp_path),
        tag=tag,
        buildargs={"GREETING": "hello"},
        labels={"built.by": "docker-py"},
        nocache=True,
        rm=True,
    )
    track.image(tag)
    assert image.labels["built.by"] == "docker-py"
    assert "GREETING=hello" in image.attrs["Config"]["Env"]
    out = client.containers.run(tag, ["ls", "/ctx"], remove=True)
    assert out.split() == [b"Dockerfile", b"kept.txt"]


def test_build_target_and_cache(client, track):
    df = (
        f"FROM {BASE} AS first\nRUN echo first > /f\n"
        f"FROM {BASE} AS second\nRUN exit 7\n"
        f"FROM first AS third\nRUN cat /f\n"
    )
    tag = unique("dpy-build-target")
    image, _ = client.images.build(fileobj=dockerfile_obj(df), tag=tag, target="third", rm=True)
    track.image(tag)
    again, logs = client.images.build(
        fileobj=dockerfile_obj(df), tag=tag, target="third", rm=True
    )
    assert again.id == image.id
    assert any("Using cache" in l.get("stream", "") for l in logs)
    fresh, logs = client.images.build(
        fileobj=dockerfile_obj(df), tag=tag, target="third", nocache=True, rm=True
    )
    assert fresh.id != image.id
    assert not any("Using cache" in l.get("stream", "") for l in logs)


def test_build_error_raises_build_error(client):
    with pytest.raises(docker.errors.BuildError) as e:
        client.images.build(
            fileobj=dockerfile_obj(f"FROM {BASE}\nRUN echo nope && exit 5\n"), forcerm=True
        )
    assert "returned a non-zero code: 5" in str(e.value)
    assert any("nope" in l.get("stream", "") for l in e.value.build_log)


def test_api_build_stream_and_custom_gzip_context(api, track):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = f"FROM {BASE}\nCOPY hello.txt /hello.txt\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
        data = b"hello\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    buf.seek(0)
    tag = unique("dpy-build-gz")
    lines = list(
        api.build(
            fileobj=buf, custom_context=True, encoding="gzip", tag=tag, decode=True, rm=True
        )
    )
    track.image(tag)
    ids = [l["aux"]["ID"] for l in lines if "aux" in l]
    assert ids and ids[-1].startswith("sha256:")
    assert api.inspect_image(tag)["Id"] == ids[-1]
    streams = "".join(l.get("stream", "") for l in lines)
    assert f"Successfully tagged {tag}:latest" in streams


def test_api_build_malformed_dockerfile(api):
    lines = list(api.build(fileobj=dockerfile_obj(f"FROM {BASE}\nNOPE x\n"), decode=True))
    errors = [l for l in lines if "error" in l]
    assert errors
    assert "dockerfile parse error on line 2: unknown instruction: NOPE" in errors[0]["error"]
    assert errors[0]["errorDetail"]["message"] == errors[0]["error"]


def test_no_build_containers_left(client):
    leftovers = [
        c.name
        for c in client.containers.list(all=True)
        if (c.attrs["Config"].get("Cmd") or [""])[0] == "/bin/sh"
        and c.attrs["Config"].get("Entrypoint") == []
    ]
    assert not leftovers


def test_prune_builds(api):
    result = api.prune_builds()
    assert "SpaceReclaimed" in result
    assert isinstance(result["CachesDeleted"], list)
