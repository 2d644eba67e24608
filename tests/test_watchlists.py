"""Watchlists: matching (exact, fuzzy) on SQLite and Postgres, the HTTP API with its 422/409 answers, and the
acceptance tests: an event stored by the worker's code path (`store_events`) that matches a watchlist reaches a
real webhook receiver (signature checked) and a real MQTT subscriber exactly once, and a failing receiver is
retried with its attempts logged; in embedded mode (asyncio retries) and with Redis + `platestream rq-worker`."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from gateway.state import Services
from pipeline.formats import load_regions
from pipeline.records import Box
from pipeline.track import Track, TrackRead
from storage.events import add_event
from storage.models import WatchlistEntry
from storage.watchlists import EntrySpec, alerts_for_event, create_watchlist, entry_distance
from tests.service_helpers import AUTH, REDIS_URL, TOKEN, Process, fresh_postgres, settings_for, wait_until
from tests.test_events import event
from tests.test_storage import database_url, engine, session
from workers.events import ClosedTrack, store_events

__all__ = ["database_url", "engine", "session"]  # fixtures shared with test_storage
MQTT_URL = "mqtt://127.0.0.1:1883"
SECRET = "s3cret-s3cret-s3cret"


# --- matching -----------------------------------------------------------------------------------------------


def test_entry_distance_exact_and_fuzzy() -> None:
    exact = WatchlistEntry(plate="ABC123", match="exact", max_distance=0)
    fuzzy = WatchlistEntry(plate="ABC123", match="fuzzy", max_distance=1)
    assert entry_distance("ABC123", exact) == 0 and entry_distance("ABC128", exact) is None
    assert entry_distance("ABC123", fuzzy) == 0 and entry_distance("A8C123", fuzzy) == 1
    assert entry_distance("ABC12", fuzzy) == 1 and entry_distance("A8C128", fuzzy) is None
    assert entry_distance("A8C128", WatchlistEntry(plate="ABC123", match="fuzzy", max_distance=2)) == 2


def test_entries_are_folded_as_the_reading_region_folds_plates() -> None:
    """A `us` camera reports the letter O as 0 (regions.yaml same_as): an entry typed with the letter still matches."""
    us = load_regions()["us"]
    assert entry_distance("D0N0R", WatchlistEntry(plate="DONOR", match="exact", max_distance=0), us.fold) == 0
    assert entry_distance("D0N0R", WatchlistEntry(plate="DONOR", match="exact", max_distance=0)) is None
    assert entry_distance("D0N0P", WatchlistEntry(plate="DONOR", match="fuzzy", max_distance=1), us.fold) == 1


async def test_alerts_for_event_one_per_watchlist_closest_entry(session: AsyncSession) -> None:
    stolen = await create_watchlist(session, "stolen", [EntrySpec("abc-123", "red car"),
                                                        EntrySpec("ABC12", "near", "fuzzy", 2)])
    vip = await create_watchlist(session, "vip", [EntrySpec("ABC128", "boss", "fuzzy", 1)])
    await create_watchlist(session, "other", [EntrySpec("XYZ999"), EntrySpec("ABC124")])
    row = await add_event(session, event("ABC123"))
    alerts = await alerts_for_event(session, row)
    await session.commit()
    found = {(a.watchlist_id, a.entry_plate, a.label, a.distance, a.plate) for a in alerts}
    assert found == {(stolen.id, "ABC123", "red car", 0, "ABC123"), (vip.id, "ABC128", "boss", 1, "ABC123")}
    assert await alerts_for_event(session, await add_event(session, event("QQQ111"))) == []


# --- HTTP API -----------------------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path))) as test_client:
        yield test_client


def test_watchlist_crud(client: TestClient) -> None:
    body = {"name": "stolen", "entries": [{"plate": "ab-123", "label": "red"},
                                          {"plate": "XY 99", "match": "fuzzy", "max_distance": 2}]}
    created = client.post("/v1/watchlists", headers=AUTH, json=body)
    assert created.status_code == 201, created.text
    wl = created.json()
    assert [(e["plate"], e["match"], e["max_distance"], e["label"]) for e in wl["entries"]] == [
        ("AB123", "exact", 0, "red"), ("XY99", "fuzzy", 2, "")]
    assert client.get(f"/v1/watchlists/{wl['id']}", headers=AUTH).json() == wl
    assert [w["name"] for w in client.get("/v1/watchlists", headers=AUTH).json()] == ["stolen"]
    added = client.post(f"/v1/watchlists/{wl['id']}/entries", headers=AUTH, json={"plate": "q1", "match": "fuzzy"})
    assert added.status_code == 201 and added.json()["max_distance"] == 1  # fuzzy defaults to one edit
    assert client.delete(f"/v1/watchlists/{wl['id']}/entries/{added.json()['id']}", headers=AUTH).status_code == 204
    patched = client.patch(f"/v1/watchlists/{wl['id']}", headers=AUTH,
                           json={"name": "stolen-2", "entries": [{"plate": "zz1"}]}).json()
    assert patched["name"] == "stolen-2" and [e["plate"] for e in patched["entries"]] == ["ZZ1"]
    renamed = client.patch(f"/v1/watchlists/{wl['id']}", headers=AUTH, json={"name": "stolen-3"}).json()
    assert [e["plate"] for e in renamed["entries"]] == ["ZZ1"]  # entries untouched without `entries`
    assert client.delete(f"/v1/watchlists/{wl['id']}", headers=AUTH).status_code == 204
    assert client.get(f"/v1/watchlists/{wl['id']}", headers=AUTH).status_code == 404


@pytest.mark.parametrize(("body", "message"), [
    ({"name": "x", "entries": [{"plate": "--"}]}, "at least one letter or digit"),
    ({"name": "x", "entries": [{"plate": "A1", "match": "fuzzy", "max_distance": 3}]}, "less than or equal to 2"),
    ({"name": "x", "entries": [{"plate": "A1", "match": "regex"}]}, "'exact' or 'fuzzy'"),
    ({"name": "x", "entries": [{"plate": "A1", "max_distance": 1}]}, "fuzzy entries only"),
    ({"name": "x", "entries": [{"plate": "A1"}, {"plate": "a-1"}]}, "listed more than once: A1"),
    ({"name": "x", "entries": [{"plate": "A" * 17}]}, "at most 16"),
    ({"name": "  "}, "must not be blank"),
    ({"entries": []}, "Field required"),
])
def test_bad_watchlist_input_is_422_with_a_message(client: TestClient, body: dict[str, Any], message: str) -> None:
    answer = client.post("/v1/watchlists", headers=AUTH, json=body)
    assert answer.status_code == 422 and message in answer.text, answer.text


def test_watchlist_conflicts_and_missing_rows(client: TestClient) -> None:
    first = client.post("/v1/watchlists", headers=AUTH, json={"name": "a", "entries": [{"plate": "A1"}]}).json()
    client.post("/v1/watchlists", headers=AUTH, json={"name": "b"})
    duplicate = client.post("/v1/watchlists", headers=AUTH, json={"name": "a"})
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["error"]["message"]
    assert client.patch(f"/v1/watchlists/{first['id']}", headers=AUTH, json={"name": "b"}).status_code == 409
    again = client.post(f"/v1/watchlists/{first['id']}/entries", headers=AUTH, json={"plate": "a-1"})
    assert again.status_code == 409 and "already on watchlist" in again.text
    assert client.get("/v1/watchlists/999", headers=AUTH).status_code == 404
    assert client.delete(f"/v1/watchlists/{first['id']}/entries/999", headers=AUTH).status_code == 404
    assert client.get("/v1/alerts/999/deliveries", headers=AUTH).status_code == 404
    assert client.get("/v1/watchlists", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_webhook_crud_and_validation(client: TestClient) -> None:
    for bad, message in [({"url": "ftp://x/y", "secret": SECRET}, "http:// or https://"),
                         ({"url": "http:///path", "secret": SECRET}, "with a host"),
                         ({"url": "https://h/x", "secret": "short"}, "at least 16 characters"),
                         ({"url": "https://h/x"}, "Field required")]:
        answer = client.post("/v1/webhooks", headers=AUTH, json=bad)
        assert answer.status_code == 422 and message in answer.text, answer.text
    created = client.post("/v1/webhooks", headers=AUTH, json={"url": "https://h.example/hook", "secret": SECRET})
    assert created.status_code == 201 and "secret" not in created.json()  # write-only
    hook = created.json()
    patched = client.patch(f"/v1/webhooks/{hook['id']}", headers=AUTH, json={"enabled": False}).json()
    assert patched["enabled"] is False and patched["url"] == hook["url"]
    assert client.patch(f"/v1/webhooks/{hook['id']}", headers=AUTH, json={"url": "x"}).status_code == 422
    assert [h["id"] for h in client.get("/v1/webhooks", headers=AUTH).json()] == [hook["id"]]
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=AUTH).status_code == 204
    assert client.get(f"/v1/webhooks/{hook['id']}", headers=AUTH).status_code == 404
    assert client.get("/v1/alerts", headers=AUTH).json() == {"items": [], "next_cursor": None}


# --- acceptance: webhooks and MQTT --------------------------------------------------------------------------


class Receiver:
    """A local webhook receiver: checks each signature, answers 500 to the first `fail_first` requests."""

    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[tuple[dict[str, Any], bool]] = []  # (body, signature valid)
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, self.headers.get("X-Platestream-Signature", ""))
                receiver.requests.append((json.loads(raw), valid))
                self.send_response(500 if len(receiver.requests) <= receiver.fail_first else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Subscriber:
    """A real MQTT client on both topics (they are fixed, so tests filter the messages by their plate)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda client, *_: client.subscribe([("platestream/events", 1),
                                                                      ("platestream/alerts", 1)])
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        assert subscribed.wait(10), "no MQTT broker on 127.0.0.1:1883"

    def about(self, plate: str) -> list[tuple[str, dict[str, Any]]]:
        def plate_of(message: dict[str, Any]) -> str:
            return str((message.get("alert") or {}).get("plate") or (message.get("event") or {}).get("plate"))

        return [(topic, m) for topic, m in list(self.messages) if plate_of(m) == plate]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    good, flaky = Receiver(), Receiver(fail_first=2)
    yield good, flaky
    good.close()
    flaky.close()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    sub = Subscriber()
    yield sub
    sub.close()


def unique_plate() -> str:
    return "T" + uuid.uuid4().hex[:7].upper()


def closed_track(plate: str) -> ClosedTrack:
    """A finished pass of one read, as TrackerRegistry.close_idle hands it to store_events."""
    from tests.test_storage import T0

    read = TrackRead(read_id=None, plate=plate, confidence=91.0, box=Box(10, 10, 90, 40), captured_at=T0)
    track = Track.start(1, read)
    track.append(TrackRead(read_id=None, plate=plate, confidence=93.0, box=Box(12, 10, 92, 40),
                           captured_at=T0 + timedelta(seconds=1)))
    return ClosedTrack(camera_id=424242, track=track)  # a camera that does not exist: stored unattributed


def check_alert_delivered(client: TestClient, plate: str, receivers: tuple[Receiver, Receiver],
                          subscriber: Subscriber) -> None:
    """Set up a watchlist and two webhooks, store a matching pass the worker's way, check every channel."""
    good, flaky = receivers
    fuzzy = plate[:-1] + ("0" if plate[-1] != "0" else "1")  # one edit away: a fuzzy entry matches it
    created = client.post("/v1/watchlists", headers=AUTH, json={
        "name": f"wl-{plate}", "entries": [{"plate": fuzzy, "label": "stolen", "match": "fuzzy"}]})
    assert created.status_code == 201, created.text
    targets = [client.post("/v1/webhooks", headers=AUTH, json={"url": r.url, "secret": SECRET}).json()["id"]
               for r in (good, flaky)]
    client.post("/v1/webhooks", headers=AUTH, json={"url": good.url, "secret": SECRET, "enabled": False})
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    async def store() -> int:
        return await store_events([closed_track(plate)], load_regions()["generic"], services.sessions,
                                  services.feed, services.metrics)

    with client.websocket_connect(f"/v1/feed?token={TOKEN}") as feed:
        time.sleep(0.3)  # the feed subscribes once the socket's first read starts
        assert client.portal.call(store) == 1  # type: ignore[union-attr]
        first, second = feed.receive_json(), feed.receive_json()
    assert (first["type"], second["type"]) == ("event", "alert")
    alert = second["alert"]
    assert (alert["plate"], alert["entry_plate"], alert["label"], alert["distance"]) == (plate, fuzzy, "stolen", 1)
    assert alert["event"]["id"] == first["event"]["id"] == alert["event_id"]

    wait_until(lambda: len(good.requests) >= 1 and len(flaky.requests) >= 3, timeout=30, interval=0.2)
    wait_until(lambda: len(subscriber.about(plate)) >= 2, timeout=10, interval=0.2)
    time.sleep(2.5)  # long enough for a wrong extra retry or duplicate to show up
    assert [body["alert"]["id"] for body, _ in good.requests] == [alert["id"]]
    assert all(valid for _, valid in good.requests + flaky.requests)
    assert len(flaky.requests) == 3 and all(body["alert"]["id"] == alert["id"] for body, _ in flaky.requests)
    assert good.requests[0][0] == {"type": "alert", "alert": alert}
    mqtt_messages = subscriber.about(plate)
    assert sorted(topic for topic, _ in mqtt_messages) == ["platestream/alerts", "platestream/events"]
    assert dict(mqtt_messages)["platestream/alerts"]["alert"]["id"] == alert["id"]

    def deliveries_logged() -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = client.get(f"/v1/alerts/{alert['id']}/deliveries", headers=AUTH).json()
        return log if len(log) == 4 else []

    log = wait_until(deliveries_logged, timeout=10, interval=0.2)  # the last attempt is logged after its answer
    by_target = {t: [(d["attempt"], d["succeeded"], d["status_code"]) for d in log if d["target_id"] == t]
                 for t in targets}
    assert by_target == {targets[0]: [(1, True, 200)],
                         targets[1]: [(1, False, 500), (2, False, 500), (3, True, 200)]}
    assert client.get("/v1/alerts", headers=AUTH, params={"limit": 1}).json()["items"][0]["id"] == alert["id"]


def test_embedded_alert_reaches_webhooks_and_mqtt_once(tmp_path: Path, receivers: tuple[Receiver, Receiver],
                                                       subscriber: Subscriber) -> None:
    settings = settings_for(tmp_path, mqtt_url=MQTT_URL, webhook_retries=3, webhook_timeout_s=5)
    with TestClient(create_app(settings, ingest=False)) as client:
        check_alert_delivered(client, unique_plate(), receivers, subscriber)


def test_rq_alert_reaches_webhooks_and_mqtt_once(tmp_path: Path, receivers: tuple[Receiver, Receiver],
                                                 subscriber: Subscriber) -> None:
    queue = f"platestream-webhooks-test-{uuid.uuid4().hex[:8]}"  # other tests' rq-workers must not take these
    with fresh_postgres() as database_url:
        env = {"PLATESTREAM_API_TOKEN": TOKEN, "PLATESTREAM_DATABASE_URL": database_url,
               "PLATESTREAM_REDIS_URL": REDIS_URL, "PLATESTREAM_DATA_DIR": str(tmp_path / "data"),
               "PLATESTREAM_WEBHOOK_QUEUE": queue, "PLATESTREAM_WEBHOOK_TIMEOUT_S": "5"}
        assert Process(["db", "upgrade"], tmp_path / "db.log", env).proc.wait(120) == 0
        worker = Process(["rq-worker"], tmp_path / "rq.log", env)
        try:
            settings = settings_for(tmp_path, database_url=database_url, redis_url=REDIS_URL, mqtt_url=MQTT_URL,
                                    webhook_retries=3, webhook_queue=queue,
                                    stream_key=f"platestream:test:wl:{tmp_path.name}",
                                    feed_channel=f"platestream:test:wl:{tmp_path.name}")
            with TestClient(create_app(settings, ingest=False)) as client:
                check_alert_delivered(client, unique_plate(), receivers, subscriber)
            assert worker.alive(), worker.output()
        finally:
            worker.stop()


def test_a_us_camera_pass_alerts_on_an_entry_typed_with_the_letter_o(client: TestClient) -> None:
    """The worker's way (store_events) with the `us` region: its pass reads D0N0R, the entry says DONOR."""
    plate = "D0N0R" + uuid.uuid4().hex[:3].upper()
    entry = plate.replace("0", "O")
    created = client.post("/v1/watchlists", headers=AUTH, json={"name": "donors", "entries": [{"plate": entry}]})
    assert created.status_code == 201, created.text
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    async def store(region: str) -> int:
        return await store_events([closed_track(plate)], load_regions()[region], services.sessions,
                                  services.feed, services.metrics)

    assert client.portal.call(store, "generic") == 1  # type: ignore[union-attr]
    assert client.get("/v1/alerts", headers=AUTH).json()["items"] == []
    assert client.portal.call(store, "us") == 1  # type: ignore[union-attr]
    alerts = client.get("/v1/alerts", headers=AUTH).json()["items"]
    assert [(a["plate"], a["entry_plate"], a["distance"]) for a in alerts] == [(plate, entry, 0)]
