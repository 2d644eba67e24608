"""Outbound notifications: signed webhook deliveries (one attempt, the RQ job, the in-process retry loop)
and the MQTT publisher.

Webhook body: the alert as JSON, POSTed with `X-Platestream-Signature: sha256=<hex HMAC-SHA256 of the raw body
keyed with the target's secret>`. Every attempt is logged in `webhook_deliveries`; a non-2xx answer or a network
error is a failed attempt, retried after 1, 2, 4, ... seconds up to `webhook_retries` times.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platestream.settings import ServiceSettings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Platestream-Signature"
EVENTS_TOPIC, ALERTS_TOPIC = "platestream/events", "platestream/alerts"
MQTT_WAIT_S = 5.0  # start-up grace for the first connection
MQTT_QUEUE = 1000  # messages kept while the broker is unreachable


class DeliveryFailed(Exception):
    """A failed attempt; raised in the RQ job so that RQ schedules the next retry."""


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode_body(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode()


def backoff(retries: int) -> list[int]:
    """Seconds before each retry: doubling, so a receiver that is down is not hammered."""
    return [2**i for i in range(retries)]


async def attempt_delivery(sessions: async_sessionmaker[AsyncSession], alert_id: int, target_id: int, body: bytes,
                           timeout_s: float) -> bool:
    """POST once and log the attempt; True when done (delivered, or the target is gone or disabled)."""
    from storage.errors import NotFound
    from storage.watchlists import get_target, log_delivery

    async with sessions() as session:
        try:
            target = await get_target(session, target_id)
        except NotFound:
            return True  # deleted since the alert: nobody to deliver to
        if not target.enabled:
            return True
        url, secret = target.url, target.secret
    status, error = None, None
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret),
               "X-Platestream-Alert": str(alert_id)}
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
            answer = await client.post(url, content=body, headers=headers)
        status = answer.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    async with sessions.begin() as session:
        await log_delivery(session, alert_id, target_id, succeeded=error is None, status_code=status, error=error)
    if error is not None:
        log.warning("webhook %s for alert %s failed: %s", target_id, alert_id, error)
    return error is None


async def deliver_with_retries(sessions: async_sessionmaker[AsyncSession], alert_id: int, target_id: int,
                               body: bytes, settings: ServiceSettings) -> None:
    """Embedded mode (no Redis): the same schedule as the RQ retries, in a task of the service."""
    delays = backoff(settings.webhook_retries)
    for attempt in range(len(delays) + 1):
        try:
            if await attempt_delivery(sessions, alert_id, target_id, body, settings.webhook_timeout_s):
                return
        except Exception:  # e.g. the database is briefly unavailable: count it as a failed attempt
            log.warning("webhook %s for alert %s: attempt crashed", target_id, alert_id, exc_info=True)
        if attempt < len(delays):
            await asyncio.sleep(delays[attempt])
    log.error("webhook %s for alert %s: giving up after %d attempts", target_id, alert_id, len(delays) + 1)


def deliver_webhook(alert_id: int, target_id: int, body: bytes) -> None:
    """RQ entry point: settings come from the worker's environment, like every platestream process."""
    from storage.db import make_engine, make_sessionmaker

    settings = ServiceSettings()

    async def once() -> bool:
        engine = make_engine(settings.resolved_database_url())
        try:
            return await attempt_delivery(make_sessionmaker(engine), alert_id, target_id, body,
                                          settings.webhook_timeout_s)
        finally:
            await engine.dispose()

    if not asyncio.run(once()):
        raise DeliveryFailed(f"webhook {target_id} for alert {alert_id} failed; RQ retries it")


def check_mqtt_url(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"PLATESTREAM_MQTT_URL must be mqtt://host[:port] or mqtts://..., got {url!r}")
    return parts


class MqttPublisher:
    """One paho client per process, its network loop on paho's thread; it reconnects by itself."""

    def __init__(self, url: str, client_id: str = "") -> None:
        import paho.mqtt.client as mqtt

        parts = check_mqtt_url(url)
        self._connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.on_connect = lambda *_: self._connected.set()
        self.client.on_disconnect = lambda *_: self._connected.clear()
        self.client.reconnect_delay_set(1, 30)
        self.client.max_queued_messages_set(MQTT_QUEUE)
        self._started = time.monotonic()
        # connect_async: a broker that is down at start-up must not stop the service; paho keeps trying.
        self.client.connect_async(parts.hostname or "", parts.port or (8883 if parts.scheme == "mqtts" else 1883))
        self.client.loop_start()

    def _publish(self, topic: str, payload: bytes) -> None:
        # Only right after start-up is it worth waiting for the connection; later an outage must not slow the
        # worker down: paho keeps QoS 1 messages (up to MQTT_QUEUE) and sends them once it has reconnected.
        self._connected.wait(max(0.0, self._started + MQTT_WAIT_S - time.monotonic()))
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != 0:
            log.info("MQTT broker unreachable; message on %s queued until it is back", topic)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await asyncio.to_thread(self._publish, topic, encode_body(message))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
