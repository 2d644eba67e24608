"""The HTTP API in embedded mode (SQLite, in-process queue): auth, recognize, cameras, reads, bad input."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gateway.app import create_app
from tests.conftest import endtoend_rows
from tests.service_helpers import AUTH, settings_for


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(settings_for(tmp_path, max_upload_bytes=2_000_000, max_pixels=5_000_000))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def car_jpeg(endtoend_dir: Path) -> bytes:
    return (endtoend_dir / endtoend_rows(1)[0]["file"]).read_bytes()


def test_health_ready_metrics_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "platestream_capture_to_result_seconds" in metrics.text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}])
def test_v1_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.get("/v1/cameras", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized" and answer.json()["error"]["message"]


def test_recognize_answers_like_the_cli(client: TestClient, car_jpeg: bytes) -> None:
    answer = client.post("/v1/recognize", headers=AUTH, files={"file": ("car.jpg", car_jpeg, "image/jpeg")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["data_type"] == "alpr_results" and (body["img_width"], body["img_height"]) == (1280, 720)
    for plate in body["results"]:
        assert plate["candidates"][0]["plate"] == plate["plate"] and 0 <= plate["confidence"] <= 100
    boxes = client.post("/v1/detect", headers=AUTH, files={"file": ("car.jpg", car_jpeg, "image/jpeg")}).json()
    assert {"detections", "img_width"} <= set(boxes)
    # both report the plate as read (the trimmed crop), so a read plate's box is one of the detected boxes
    assert body["results"] and all(p["box"] in [d["box"] for d in boxes["detections"]] for p in body["results"])


def test_bad_uploads_get_4xx_and_the_service_keeps_serving(client: TestClient, car_jpeg: bytes) -> None:
    def post(data: bytes, name: str = "x.jpg") -> tuple[int, str]:
        answer = client.post("/v1/recognize", headers=AUTH, files={"file": (name, data, "image/jpeg")})
        return answer.status_code, answer.json()["error"]["code"]

    assert post(b"not an image at all") == (400, "not_an_image")
    assert post(car_jpeg[: len(car_jpeg) // 2]) == (400, "truncated_image")
    assert post(b"") == (400, "bad_request")
    assert post(b"\xff" * 2_100_000) == (413, "payload_too_large")
    big = io.BytesIO()
    Image.new("RGB", (3000, 2000)).save(big, "PNG")
    assert post(big.getvalue(), "big.png") == (400, "image_too_large")
    assert client.post("/v1/recognize", headers=AUTH).status_code == 422  # no file field at all
    ok = client.post("/v1/recognize", headers=AUTH, files={"file": ("car.jpg", car_jpeg, "image/jpeg")})
    assert ok.status_code == 200


def test_camera_crud(client: TestClient) -> None:
    created = client.post("/v1/cameras", headers=AUTH, json={"name": "gate", "url": "rtsp://127.0.0.1:1/x",
                                                              "enabled": False})
    assert created.status_code == 201, created.text
    camera = created.json()
    assert camera["fps"] == 5.0 and camera["enabled"] is False and camera["connected"] is False
    assert client.get(f"/v1/cameras/{camera['id']}", headers=AUTH).json()["name"] == "gate"
    patched = client.patch(f"/v1/cameras/{camera['id']}", headers=AUTH, json={"fps": 2.5, "name": "gate-2"})
    assert patched.status_code == 200 and patched.json()["fps"] == 2.5 and patched.json()["name"] == "gate-2"
    assert [c["name"] for c in client.get("/v1/cameras", headers=AUTH).json()] == ["gate-2"]
    duplicate = client.post("/v1/cameras", headers=AUTH, json={"name": "gate-2", "url": "rtsp://h/x"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "conflict"
    assert client.delete(f"/v1/cameras/{camera['id']}", headers=AUTH).status_code == 204
    missing = client.get(f"/v1/cameras/{camera['id']}", headers=AUTH)
    assert missing.status_code == 404 and "not found" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "a", "url": "file:///etc/passwd"}, "local files are not allowed"),
        ({"name": "a", "url": "/etc/passwd"}, "local files are not allowed"),
        ({"name": "a", "url": "ftp://example.com/x"}, "scheme 'ftp' is not allowed"),
        ({"name": "a", "url": "rtsp://"}, "has no host"),
        ({"name": "a", "url": "rtsp://h/x", "fps": 0}, "greater than 0"),
        ({"name": "a", "url": "rtsp://h/x", "fps": 500}, "less than or equal to 60"),
        ({"name": " ", "url": "rtsp://h/x"}, "blank"),
    ],
)
def test_bad_camera_input_is_422(client: TestClient, body: dict[str, object], message: str) -> None:
    answer = client.post("/v1/cameras", headers=AUTH, json=body)
    assert answer.status_code == 422
    assert message in answer.text


def test_unknown_ids_are_404(client: TestClient) -> None:
    for path in ("/v1/cameras/999", "/v1/reads/999", "/v1/reads/999/crop.jpg", "/v1/videos/nope"):
        answer = client.get(path, headers=AUTH)
        assert answer.status_code == 404, path
    assert client.patch("/v1/cameras/999", headers=AUTH, json={"fps": 1}).status_code == 404
    assert client.delete("/v1/cameras/999", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=100000", "min_confidence=101", "min_confidence=-1", "max_distance=3", "camera_id=0",
     "since=yesterday", "cursor=not-a-cursor", "plate=%20-%20"],
)
def test_out_of_range_query_parameters_are_422(client: TestClient, query: str) -> None:
    answer = client.get(f"/v1/reads?{query}", headers=AUTH)
    assert answer.status_code == 422, answer.text


def test_whip_rejects_malformed_sdp(client: TestClient) -> None:
    camera = client.post("/v1/cameras", headers=AUTH, json={"name": "webrtc", "url": "rtsp://h/x",
                                                             "enabled": False}).json()
    url = f"/v1/cameras/{camera['id']}/whip"
    sdp = {**AUTH, "Content-Type": "application/sdp"}
    assert client.post(url, headers=sdp, content=b"hello").status_code == 400
    no_video = b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    answer = client.post(url, headers=sdp, content=no_video)
    assert answer.status_code == 400 and "m=video" in answer.json()["error"]["message"]
    broken = b"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=garbage\r\n"
    assert client.post(url, headers=sdp, content=broken).status_code == 400
    assert client.post(url, headers={**AUTH, "Content-Type": "text/plain"}, content=b"v=0").status_code == 422
    assert client.post("/v1/cameras/999/whip", headers=sdp, content=no_video).status_code == 404


def test_feed_refuses_a_missing_token(client: TestClient) -> None:
    from starlette.testclient import WebSocketDenialResponse

    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/v1/feed"):
        pass
    assert denied.value.status_code == 401


def test_bad_video_upload(client: TestClient) -> None:
    answer = client.post("/v1/videos", headers=AUTH, files={"file": ("v.mp4", b"not a video", "video/mp4")})
    assert answer.status_code == 400 and "not a readable video" in answer.json()["error"]["message"]


def test_dropped_frames_are_counted_in_metrics(tmp_path: Path) -> None:
    from workers.messages import FrameMessage

    with TestClient(create_app(settings_for(tmp_path, queue_maxlen=5))) as client:
        queue = client.app.state.services.queue  # type: ignore[attr-defined]
        assert client.portal is not None
        for _ in range(8):  # no worker in this app: the bound drops the 3 oldest
            client.portal.call(queue.publish, FrameMessage(jpeg=b"x"))
        text = client.get("/metrics").text
    assert "platestream_frames_dropped_total 3.0" in text
    assert "platestream_stream_length 5.0" in text


def test_cameras_resume_after_a_restart(tmp_path: Path) -> None:
    from tests.service_helpers import make_cars_video, wait_until

    video, _ = make_cars_video(tmp_path / "cars.mp4", count=2, seconds_each=2)
    settings = settings_for(tmp_path, allow_file_urls=True)
    with TestClient(create_app(settings)) as client:
        camera = client.post("/v1/cameras", headers=AUTH, json={"name": "file", "url": str(video), "fps": 2}).json()
    with TestClient(create_app(settings)) as client:
        status = wait_until(lambda: (s := client.get(f"/v1/cameras/{camera['id']}", headers=AUTH).json())["connected"]
                            and s["measured_fps"] and s, timeout=30)
        assert 0.5 < status["measured_fps"] < 5 and status["last_frame_at"] and status["last_error"] is None


def test_camera_errors_never_show_the_password() -> None:
    from gateway.ingest import redact

    url = "rtsp://admin:s3cret@10.1.2.3/stream"
    assert redact(f"ConnectionRefusedError: [Errno 111] '{url}'", url) == (
        "ConnectionRefusedError: [Errno 111] 'rtsp://admin:***@10.1.2.3/stream'"
    )
    assert redact("timeout", "rtsp://10.1.2.3/x") == "timeout"
