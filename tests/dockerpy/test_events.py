"""Events: bounded queries with since/until and filters, and the live stream."""

import threading
import time

from conftest import BASE, unique


def test_events_since_until(client, track):
    since = int(time.time()) - 1
    name = unique()
    c = track.create(["true"], name=name, labels={"dpy.events": "1"})
    c.start()
    c.wait(timeout=30)
    c.remove()
    time.sleep(1.1)
    until = int(time.time())
    events = list(
        client.events(decode=True, since=since, until=until, filters={"container": c.id})
    )
    actions = [e["Action"] for e in events]
    for want in ("create", "start", "die", "destroy"):
        assert want in actions, actions
    assert actions.index("create") < actions.index("start") < actions.index("die") < actions.index("destroy")
    for e in events:
        assert e["Type"] == "container"
        assert e["Actor"]["ID"] == c.id
        assert e["Actor"]["Attributes"]["name"] == name
        assert e["Actor"]["Attributes"]["image"] == BASE
        assert e["scope"] == "local"
        assert isinstance(e["time"], int) and isinstance(e["timeNano"], int)
        assert e["time"] == e["timeNano"] // 1_000_000_000
        # the pre-1.22 fields docker still sends
        assert e["id"] == c.id and e["from"] == BASE and e["status"] == e["Action"]
    die = next(e for e in events if e["Action"] == "die")
    assert die["Actor"]["Attributes"]["exitCode"] == "0"
    assert die["Actor"]["Attributes"]["dpy.events"] == "1"


def test_events_filters(client, track):
    since = int(time.time()) - 1
    tag = unique("ev")
    c = track.create(["true"], labels={"dpy.ev": tag})
    other = track.create(["true"])
    c.start()
    c.wait(timeout=30)
    time.sleep(1.1)
    until = int(time.time())
    events = list(
        client.events(
            decode=True,
            since=since,
            until=until,
            filters={"label": f"dpy.ev={tag}", "event": ["start", "die"], "type": "container"},
        )
    )
    assert [e["Action"] for e in events] == ["start", "die"]
    assert all(e["Actor"]["ID"] == c.id for e in events)
    assert other.id not in [e["Actor"]["ID"] for e in events]


def test_image_and_volume_events(client, track):
    since = int(time.time()) - 1
    repo = unique("dpy-evimg")
    client.images.get(BASE).tag(repo, "t")
    track.image(f"{repo}:t")
    client.images.remove(f"{repo}:t")
    vname = unique("dpy-evvol")
    track.volume(client.volumes.create(name=vname)).remove()
    time.sleep(1.1)
    until = int(time.time())
    image_id = client.images.get(BASE).id
    img_events = list(
        client.events(decode=True, since=since, until=until, filters={"type": "image"})
    )
    tagged = [e for e in img_events if e["Action"] == "tag" and e["Actor"]["Attributes"].get("name") == f"{repo}:t"]
    assert len(tagged) == 1, img_events
    assert tagged[0]["Actor"]["ID"] == image_id
    # dockerd names the image of an untag event by its id, not by the removed tag
    untagged = [e for e in img_events if e["Action"] == "untag" and e["time"] >= tagged[0]["time"]]
    assert untagged and untagged[-1]["Actor"]["ID"] == image_id, img_events
    vol_events = list(
        client.events(decode=True, since=since, until=until, filters={"type": "volume", "volume": vname})
    )
    assert [e["Action"] for e in vol_events] == ["create", "destroy"]


def test_live_event_stream(client, track):
    tag = unique("live")
    stream = client.events(decode=True, filters={"label": f"dpy.live={tag}"})
    got = []
    done = threading.Event()

    def reader():
        for e in stream:
            got.append(e)
            if e["Action"] == "destroy":
                break
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.3)
    c = track.create(["true"], labels={"dpy.live": tag})
    c.start()
    c.wait(timeout=30)
    c.remove()
    assert done.wait(15), [e["Action"] for e in got]
    stream.close()
    assert [e["Action"] for e in got if e["Action"] in ("create", "start", "die", "destroy")] == [
        "create",
        "start",
        "die",
        "destroy",
    ]
