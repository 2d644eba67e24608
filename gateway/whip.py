"""WHIP ingest (RFC 9725): a WebRTC publisher posts an SDP offer; its video enters the same frame queue.

ICE servers come only from settings: aiortc would otherwise ask Google's public STUN server, which a
self-hosted box may not (and here cannot) reach. `loopback_only` restricts host candidates to 127.0.0.1 for
single-machine tests and set-ups where the publisher runs beside the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from uuid import uuid4

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from gateway.errors import BadRequest
from gateway.ingest import Publish, RateMeter, Sampler, encode_jpeg
from gateway.metrics import Metrics
from workers.messages import FrameMessage, utcnow

log = logging.getLogger(__name__)


def check_offer(sdp: str) -> None:
    lines = sdp.strip().splitlines()
    if not lines or lines[0].strip() != "v=0":
        raise BadRequest("body is not an SDP offer (it must start with 'v=0')")
    if not any(line.startswith("m=video") for line in lines):
        raise BadRequest("the SDP offer has no video media section ('m=video')")


@contextlib.contextmanager
def loopback_candidates(enabled: bool) -> Iterator[None]:
    """Offer only 127.0.0.1 as host candidate while a peer connection gathers (see module docstring)."""
    if not enabled:
        yield
        return
    import aioice.ice

    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


class WhipSessions:
    def __init__(self, publish: Publish, metrics: Metrics, jpeg_quality: int = 90,
                 ice_servers: list[str] | None = None, loopback_only: bool = False) -> None:
        self.publish, self.metrics, self.jpeg_quality = publish, metrics, jpeg_quality
        self.ice_servers = ice_servers or []
        self.loopback_only = loopback_only
        self.peers: dict[str, tuple[int, RTCPeerConnection]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def offer(self, camera_id: int, fps: float, sdp: str) -> tuple[str, str]:
        """Answer a publisher's offer; returns (session id, answer SDP)."""
        check_offer(sdp)
        config = RTCConfiguration(iceServers=[RTCIceServer(url) for url in self.ice_servers])
        peer = RTCPeerConnection(configuration=config)
        session_id = uuid4().hex

        @peer.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                task = asyncio.create_task(self._consume(camera_id, fps, track))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

        @peer.on("connectionstatechange")
        async def on_state() -> None:
            if peer.connectionState in ("failed", "closed"):
                await self.close(session_id)

        try:
            await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            with loopback_candidates(self.loopback_only):
                await peer.setLocalDescription(await peer.createAnswer())
        except BadRequest:
            raise
        except Exception as exc:  # aiortc raises ValueError & co. on SDP it cannot use
            await peer.close()
            raise BadRequest(f"cannot use this SDP offer: {exc}") from exc
        self.peers[session_id] = (camera_id, peer)
        return session_id, peer.localDescription.sdp

    async def _consume(self, camera_id: int, fps: float, track: MediaStreamTrack) -> None:
        sampler, rate = Sampler(fps), RateMeter()
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            if not sampler.take(now):
                continue
            try:
                jpeg = await asyncio.to_thread(encode_jpeg, frame, self.jpeg_quality)  # type: ignore[arg-type]
                await self.publish(FrameMessage(jpeg=jpeg, camera_id=camera_id, captured_at=utcnow()))
                self.metrics.camera_fps.labels(camera=str(camera_id)).set(rate.tick(now))
            except Exception:
                self.metrics.errors.labels(stage="whip").inc()
                log.warning("WHIP frame from camera %s could not be queued", camera_id, exc_info=True)

    def owns(self, session_id: str, camera_id: int) -> bool:
        return self.peers.get(session_id, (None,))[0] == camera_id

    async def close(self, session_id: str) -> bool:
        entry = self.peers.pop(session_id, None)
        if entry is None:
            return False
        await entry[1].close()
        return True

    async def close_all(self) -> None:
        for session_id in list(self.peers):
            await self.close(session_id)
