"""A real WebRTC publisher (aiortc) pushes an MP4 through WHIP into the embedded service; reads come out."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

from gateway.whip import loopback_candidates
from tests.service_helpers import AUTH, TOKEN, Process, free_port, make_cars_video

pytestmark = pytest.mark.slow


async def poll_reads(api: httpx.AsyncClient, camera_id: int, timeout: float) -> list[dict[str, object]]:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        items = (await api.get("/v1/reads", params={"camera_id": camera_id})).json()["items"]
        if items:
            return items  # type: ignore[no-any-return]
        await asyncio.sleep(1)
    return []


async def test_whip_publisher_produces_reads(tmp_path: Path) -> None:
    video, _ = make_cars_video(tmp_path / "cars.mp4", count=4, seconds_each=4)
    port = free_port()
    env = {"PLATESTREAM_API_TOKEN": TOKEN, "PLATESTREAM_DATA_DIR": str(tmp_path / "data"),
           "PLATESTREAM_PORT": str(port), "PLATESTREAM_WEBRTC_LOOPBACK_ONLY": "true", "PLATESTREAM_THREADS": "1"}
    service = Process(["run"], tmp_path / "run.log", env)
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        service.wait_for_line("Uvicorn running", timeout=90)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=30) as api:
            camera = (await api.post("/v1/cameras", json={"name": "phone", "url": "whip:", "fps": 2})).json()
            track = MediaPlayer(str(video)).video
            assert track is not None
            peer.addTrack(track)
            with loopback_candidates(True):
                await peer.setLocalDescription(await peer.createOffer())
            answer = await api.post(f"/v1/cameras/{camera['id']}/whip", content=peer.localDescription.sdp,
                                    headers={"Content-Type": "application/sdp"})
            assert answer.status_code == 201, answer.text
            assert answer.headers["content-type"].startswith("application/sdp")
            await peer.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))

            reads = await poll_reads(api, camera["id"], timeout=60)
            assert reads, f"no reads from the WHIP publisher:\n{service.output()}"
            assert all(r["camera_id"] == camera["id"] for r in reads)

            session = answer.headers["location"]
            assert (await api.delete(session)).status_code == 204
            assert (await api.delete(session)).status_code == 404
    finally:
        await peer.close()
        service.stop()
