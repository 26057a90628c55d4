"""Error mapping: NotFound, ImageNotFound, 409 conflicts, 400s."""

import docker
import pytest

from conftest import BASE, unique


def test_unknown_container_not_found(client, api):
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("no-such-container-" + unique())
    for call in (api.inspect_container, api.start, api.stop, api.kill, api.remove_container, api.wait):
        with pytest.raises(docker.errors.NotFound) as info:
            call("no-such-container-xyz")
        assert info.value.status_code == 404
        assert "no-such-container-xyz" in str(info.value)


def test_unknown_image(client, api):
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("no-such-image-xyz:latest")
    with pytest.raises(docker.errors.ImageNotFound):
        api.inspect_image("no-such-image-xyz")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.remove("no-such-image-xyz:latest")
    with pytest.raises(docker.errors.NotFound):
        client.images.get("no-such-image-xyz").history()


def test_create_from_unknown_image(client, api):
    with pytest.raises(docker.errors.ImageNotFound) as info:
        api.create_container("no-such-image-xyz:latest", ["true"])
    assert info.value.status_code == 404
    assert "No such image" in str(info.value)


def test_unknown_volume(client):
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("no-such-volume-" + unique())


def test_name_conflict(client, track):
    c = track.create()
    with pytest.raises(docker.errors.APIError) as info:
        track.create(name=c.name)
    assert info.value.status_code == 409
    assert "already in use" in str(info.value)
    other = track.create()
    with pytest.raises(docker.errors.APIError) as info:
        other.rename(c.name)
    assert info.value.status_code == 409


def test_remove_running_container_conflicts(client, running):
    with pytest.raises(docker.errors.APIError) as info:
        running.remove()
    assert info.value.status_code == 409
    running.reload()
    assert running.status == "running"
    running.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(running.id)


def test_start_twice_is_fine_and_stop_twice_is_fine(api, running):
    # dockerd answers 304 Not Modified; docker-py treats that as success.
    api.start(running.id)
    api.stop(running.id, timeout=1)
    api.stop(running.id, timeout=1)


def test_invalid_requests(api, track):
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container(BASE, ["true"], name="bad name!")
    assert info.value.status_code == 400
    c = track.create()
    with pytest.raises(docker.errors.APIError) as info:
        api.kill(c.id)  # not running
    assert info.value.status_code == 409


def test_error_explanation_is_message(client):
    with pytest.raises(docker.errors.NotFound) as info:
        client.containers.get("no-such-container-abc")
    assert info.value.explanation
    assert "No such container" in info.value.explanation
