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


def build_logs(api, **kwargs):
    # docker-py keeps the RUN containers unless asked (rm=False by default, as dockerd honours).
    kwargs.setdefault("rm", True)
    return list(api.build(decode=True, **kwargs))


def test_api_build_dockerfile_outside_the_context(api, client, track, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "data.txt").write_text("in the context")
    (ctx / ".dockerignore").write_text(".dockerignore\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "Dockerfile").write_text(f"FROM {BASE}\nCOPY . /ctx\n")
    tag = unique("dpy-outside")
    logs = build_logs(api, path=str(ctx), dockerfile=str(elsewhere / "Dockerfile"), tag=tag)
    track.image(tag)
    assert "Successfully tagged" in logs[-1]["stream"], logs
    out = client.containers.run(tag, ["ls", "-A", "/ctx"], remove=True)
    # Neither the Dockerfile docker-py adds under a random name nor .dockerignore is copied.
    assert out.decode().split() == ["data.txt"]


def test_api_build_dockerignore_leaves_out_dockerfile_and_itself(api, client, track, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE}\nADD . /test\n")
    (tmp_path / ".dockerignore").write_text(
        "skipped\nDockerfile\n.dockerignore\n  spaced  \n!skipped/kept\n#comment\n"
    )
    for name in ["kept-too", "spaced", "skipped/gone", "skipped/kept", "#hash.txt"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    tag = unique("dpy-ignore")
    build_logs(api, path=str(tmp_path), tag=tag)
    track.image(tag)
    out = client.containers.run(tag, ["find", "/test", "-type", "f"], remove=True)
    assert sorted(out.decode().split()) == [
        "/test/#hash.txt",
        "/test/kept-too",
        "/test/skipped/kept",
    ]


def test_api_build_stderr_is_red(api):
    logs = build_logs(
        api,
        fileobj=dockerfile_obj(f"FROM {BASE}\nRUN echo oops >&2\n"),
        nocache=True,
    )
    assert "\x1b[91moops\n\x1b[0m" in [l.get("stream") for l in logs], logs


def test_api_build_cache_from(api, track):
    text = f"FROM {BASE}\nENV DPY=cache\nRUN touch /one\nRUN touch /two\n"
    first = unique("dpy-cachefrom")
    build_logs(api, fileobj=dockerfile_obj(text), tag=first)
    track.image(first)

    def hits(**kwargs):
        logs = build_logs(api, fileobj=dockerfile_obj(text), **kwargs)
        return sum("Using cache" in l.get("stream", "") for l in logs)

    assert hits(cache_from=[first]) == 3
    assert hits(cache_from=["dpy-no-such-image"]) == 0


def test_api_build_extra_hosts_limits_and_proxy(api, client, track):
    api._proxy_configs = docker.utils.proxy.ProxyConfig(http="http://proxy.test:3128", no_proxy="local")
    tag = unique("dpy-opts")
    logs = build_logs(
        api,
        fileobj=dockerfile_obj(
            f"FROM {BASE}\n"
            "RUN grep hello.test /etc/hosts > /hosts && echo $HTTP_PROXY $no_proxy > /proxy "
            "&& df -k /dev/shm | awk 'NR==2 {print $2}' > /shm\n"
        ),
        tag=tag,
        nocache=True,
        extra_hosts={"hello.test": "10.9.8.7"},
        shmsize=8 * 1024 * 1024,
        container_limits={"memory": 64 * 1024 * 1024},
    )
    track.image(tag)
    assert not [l for l in logs if "errorDetail" in l], logs
    out = client.containers.run(tag, ["cat", "/hosts", "/proxy", "/shm"], remove=True).decode()
    assert out == "10.9.8.7\thello.test\nhttp://proxy.test:3128 local\n8192\n"
    # The proxy args are not kept in the image's config.
    env = client.images.get(tag).attrs["Config"]["Env"] or []
    assert not [e for e in env if "proxy" in e.lower()]


def test_api_build_refusals(api):
    with pytest.raises(docker.errors.APIError) as err:
        build_logs(api, fileobj=dockerfile_obj(f"FROM {BASE}\n"), isolation="hyperv")
    assert "Unsupported isolation" in str(err.value)
    with pytest.raises(docker.errors.APIError) as err:
        build_logs(api, fileobj=dockerfile_obj(f"FROM {BASE}\n"), squash=True)
    assert "experimental" in str(err.value)


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
