"""Watchlist alerts: after the worker stores an event (`workers/events.py`), `on_event_stored` matches it against
every watchlist entry, stores one alert per matching watchlist and sends each one out:

- the live feed, as `{"type": "alert", "alert": {..., "event": {...}}}`;
- MQTT, when `PLATESTREAM_MQTT_URL` is set: every event on `platestream/events`, alerts on `platestream/alerts`;
- every enabled webhook target: an RQ job on `webhook_queue` with Redis (RQ retries it with backoff; the
  `platestream rq-worker` runs it), else a task of this process with the same schedule (workers/notify.py).

Outbound channels are configured per service by `install(settings, feed)` (the app's `open_services`); without
it alerts are still stored and put on the feed. Alerts are stored after the event's own transaction: an event
is never lost because notifying failed, and a failure is logged rather than raised.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.feed import Feed
from platestream.settings import ServiceSettings
from storage.models import Event
from storage.schemas import event_payload
from storage.watchlist_schemas import alert_payload
from workers.notify import (
    ALERTS_TOPIC,
    EVENTS_TOPIC,
    MqttPublisher,
    backoff,
    check_mqtt_url,
    deliver_with_retries,
    encode_body,
)

log = logging.getLogger(__name__)
WEBHOOK_JOB = "workers.notify.deliver_webhook"


class Notifier:
    """This process's outbound channels: MQTT (optional) and the webhook queue (RQ or in-process tasks)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        if settings.mqtt_url:
            check_mqtt_url(settings.mqtt_url)  # a typo stops the service at start-up, not every publish later
        self.mqtt: MqttPublisher | None = None  # connected on first use: a gateway that never publishes needs none
        self.tasks: set[asyncio.Task[None]] = set()
        self.rq_queue: Any = None
        if settings.redis_url:
            from redis import Redis
            from rq import Queue

            self.rq_queue = Queue(settings.webhook_queue, connection=Redis.from_url(settings.redis_url))

    async def publish_mqtt(self, topic: str, message: dict[str, Any]) -> None:
        if not self.settings.mqtt_url:
            return
        try:
            if self.mqtt is None:
                self.mqtt = MqttPublisher(self.settings.mqtt_url)
            await self.mqtt.publish(topic, message)
        except Exception:  # the broker is an integration, not a dependency: log and go on
            log.warning("could not publish to MQTT topic %s", topic, exc_info=True)

    async def deliver(self, sessions: async_sessionmaker[AsyncSession], alert_id: int, target_id: int,
                      body: bytes) -> None:
        if self.rq_queue is not None:
            from rq import Retry

            retries = self.settings.webhook_retries
            retry = Retry(max=retries, interval=backoff(retries)) if retries else None
            await asyncio.to_thread(self.rq_queue.enqueue, WEBHOOK_JOB, alert_id, target_id, body, retry=retry,
                                    job_timeout=int(self.settings.webhook_timeout_s) + 60)
            return
        task = asyncio.create_task(deliver_with_retries(sessions, alert_id, target_id, body, self.settings))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.mqtt is not None:
            await asyncio.to_thread(self.mqtt.close)
        if self.rq_queue is not None:
            self.rq_queue.connection.close()


# One Notifier per service instance, found through its feed (the object store_events already gets), so that
# several apps in one process (tests) keep their own channels. Weak: a forgotten feed frees its notifier.
_notifiers: weakref.WeakKeyDictionary[Any, Notifier] = weakref.WeakKeyDictionary()


def install(settings: ServiceSettings, feed: Feed) -> Notifier:
    notifier = _notifiers[feed] = Notifier(settings)
    return notifier


async def uninstall(feed: Feed) -> None:
    notifier = _notifiers.pop(feed, None)
    if notifier is not None:
        await notifier.close()


async def on_event_stored(sessions: async_sessionmaker[AsyncSession], feed: Feed, event: Event,
                          fold: Callable[[str], str]) -> list[dict[str, Any]]:
    """Publish the event on MQTT, store its alerts and send them out; returns the alert payloads. `fold`: the
    reading region's look-alike rule (Region.fold), applied to watchlist entries before they are compared."""
    from storage.watchlists import alerts_for_event, list_targets

    notifier = _notifiers.get(feed)
    payload = event_payload(event)
    if notifier is not None:
        await notifier.publish_mqtt(EVENTS_TOPIC, {"type": "event", "event": payload})
    async with sessions() as session:
        alerts = await alerts_for_event(session, event, fold)
        targets = [t.id for t in await list_targets(session, enabled_only=True)] if alerts else []
        await session.commit()
        payloads = [alert_payload(a, event) for a in alerts]
    for alert in payloads:
        message = {"type": "alert", "alert": alert}
        try:
            await feed.publish(message)
        except Exception:
            log.warning("could not publish alert %s to the feed", alert["id"], exc_info=True)
        if notifier is None:
            continue
        await notifier.publish_mqtt(ALERTS_TOPIC, message)
        body = encode_body(message)
        for target_id in targets:
            try:
                await notifier.deliver(sessions, alert["id"], target_id, body)
            except Exception:
                log.warning("could not queue webhook %s for alert %s", target_id, alert["id"], exc_info=True)
    return payloads
