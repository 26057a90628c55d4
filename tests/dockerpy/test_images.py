"""Images: list, get, inspect attrs, tag, remove, history, save/load, prune."""

import io
import tarfile

import docker
import pytest

from conftest import BASE, unique


def test_list_contains_base(client):
    images = client.images.list()
    assert any(BASE in i.tags for i in images)
    named = client.images.list(name="busybox")
    assert named and all(any(t.startswith("busybox:") for t in i.tags) for i in named)
    ids = client.api.images(quiet=True)
    assert client.images.get(BASE).id in ids


def test_list_filters(client, track):
    tag = unique("dpy-filter") + ":v1"
    client.images.get(BASE).tag(tag)
    track.image(tag)
    # The high-level list re-reads every image (all its tags); the summaries of the
    # low-level list carry only the tags that match the reference, as dockerd's do.
    assert any(tag in i.tags for i in client.images.list(filters={"reference": tag}))
    summaries = client.api.images(filters={"reference": tag})
    assert [s["RepoTags"] for s in summaries] == [[tag]]
    assert client.api.images(name=tag)[0]["RepoTags"] == [tag]
    for i in client.images.list(filters={"dangling": True}):
        assert not i.tags


def test_get_and_attrs(client):
    img = client.images.get(BASE)
    assert img.id.startswith("sha256:")
    assert img.short_id == img.id[:19]  # "sha256:" and 12 hex digits
    assert BASE in img.tags
    assert isinstance(img.labels, dict)
    a = img.attrs
    assert a["Id"] == img.id
    assert BASE in a["RepoTags"]
    assert a["Os"] == "linux"
    assert a["Architecture"]
    assert a["Size"] > 0
    assert a["Created"]
    assert a["RootFS"]["Type"] == "layers"
    assert a["RootFS"]["Layers"] and all(
        layer.startswith("sha256:") for layer in a["RootFS"]["Layers"]
    )
    assert "Config" in a


def test_get_by_id_and_short_id(client):
    img = client.images.get(BASE)
    assert client.images.get(img.id).id == img.id
    assert client.images.get(img.id[len("sha256:"):][:12]).id == img.id


def test_low_level_inspect(api, client):
    data = api.inspect_image(BASE)
    assert data["Id"] == client.images.get(BASE).id


def test_tag_and_remove(client, track):
    img = client.images.get(BASE)
    repo = unique("dpy-tag")
    assert img.tag(repo, "v1") is True
    track.image(f"{repo}:v1")
    img.reload()
    assert f"{repo}:v1" in img.tags
    assert client.images.get(f"{repo}:v1").id == img.id
    # A tag without one means latest.
    assert img.tag(repo) is True
    track.image(f"{repo}:latest")
    assert client.images.get(repo).id == img.id

    client.images.remove(f"{repo}:v1")
    client.images.remove(repo)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{repo}:v1")
    # Removing a tag leaves the image and its other tags alone.
    assert client.images.get(BASE).id == img.id


def test_history(client):
    history = client.images.get(BASE).history()
    assert isinstance(history, list) and history
    for entry in history:
        for key in ("Id", "Created", "CreatedBy", "Size", "Tags", "Comment"):
            assert key in entry, key
    assert BASE in (history[0]["Tags"] or [])


def _commit_image(client, track, content):
    c = track.create(["sh", "-c", f"echo {content} > /marker"])
    c.start()
    assert c.wait(timeout=30)["StatusCode"] == 0
    repo = unique("dpy-save")
    img = c.commit(repository=repo, tag="v1")
    track.image(f"{repo}:v1")
    track.image(img.id)
    return repo + ":v1", img


def test_save_load_round_trip(client, track):
    ref, img = _commit_image(client, track, "saved-content")
    data = b"".join(img.save(named=ref))

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        assert "manifest.json" in names
        import json

        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == [ref]

    client.images.remove(img.id, force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(ref)

    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [img.id]
    assert ref in loaded[0].tags
    out = client.containers.run(ref, ["cat", "/marker"], remove=True)
    assert out == b"saved-content\n"


def test_save_by_id_and_low_level_get(client, api):
    img = client.images.get(BASE)
    data = b"".join(img.save())
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert "manifest.json" in tar.getnames()
    data2 = b"".join(api.get_image(BASE))
    with tarfile.open(fileobj=io.BytesIO(data2)) as tar:
        assert "manifest.json" in tar.getnames()


def test_prune_dangling(client, track):
    c = track.create(["sh", "-c", "echo x > /dangling"])
    c.start()
    c.wait(timeout=30)
    img = c.commit()  # no repository: a dangling image
    track.image(img.id)
    assert img.tags == []
    assert img.id in [i.id for i in client.images.list(filters={"dangling": True})]
    c.remove()

    result = client.images.prune(filters={"dangling": True})
    assert "SpaceReclaimed" in result
    deleted = [d.get("Deleted") for d in (result.get("ImagesDeleted") or [])]
    assert img.id in deleted
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(img.id)
    # The base image is tagged: prune of dangling images leaves it.
    client.images.get(BASE)
