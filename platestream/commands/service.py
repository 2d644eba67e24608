"""Service processes: `run` (embedded all-in-one), `gateway`, `worker`, `rq-worker` and `db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from platestream.commands.common import port_number, positive_int
from platestream.errors import ConfigurationError
from platestream.settings import ServiceSettings

if TYPE_CHECKING:
    from workers.batching import BatchPolicy

log = logging.getLogger("platestream")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = sub.add_parser("run", help="the whole service in one process: SQLite + in-process queue by default")
    run.add_argument("--source", action="append", default=[], metavar="URL",
                     help="register this stream (or video file) as a camera at start-up; repeatable")
    run.add_argument("--workers", type=positive_int,
                     help="worker tasks in this process (default PLATESTREAM_WORKER_TASKS: one per CPU core)")
    gateway = sub.add_parser("gateway", help="HTTP API and camera ingest (needs PLATESTREAM_REDIS_URL)")
    worker = sub.add_parser("worker", help="batched recognition worker (needs PLATESTREAM_REDIS_URL)")
    worker.add_argument("--name", help="consumer name (default: host-pid)")
    worker.add_argument("--metrics-port", type=port_number, help="serve Prometheus metrics on this port")
    rq = sub.add_parser("rq-worker", help="RQ worker: video jobs, webhook deliveries (needs PLATESTREAM_REDIS_URL)")
    for p in (run, gateway):
        p.add_argument("--host", help="listen address (default PLATESTREAM_HOST)")
        p.add_argument("--port", type=int, help="listen port (default PLATESTREAM_PORT)")
    run.set_defaults(handler=cmd_run)
    gateway.set_defaults(handler=cmd_gateway)
    worker.set_defaults(handler=cmd_worker)
    rq.set_defaults(handler=cmd_rq_worker)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply Alembic migrations").set_defaults(handler=cmd_db_upgrade)


def configure_logging() -> None:
    # force: the CLI already set WARNING for one-shot commands; services log their progress at INFO.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)


def service_settings(args: argparse.Namespace) -> ServiceSettings:
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    settings = ServiceSettings(**overrides)
    settings.check_regions()  # a bad regions file stops the service here (exit 2), not on its first frame
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot use PLATESTREAM_DATA_DIR {settings.data_dir}: {exc.strerror or exc}"
                                 ) from exc
    return settings


def ensure_token(settings: ServiceSettings) -> ServiceSettings:
    """Embedded mode on a fresh machine: create an API token once and keep it in the data dir."""
    if settings.api_token:
        return settings
    path = settings.data_dir / "api_token"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24) + "\n")
        path.chmod(0o600)
    token = path.read_text().strip()
    print(f"API token (from {path}): {token}", flush=True)
    return settings.model_copy(update={"api_token": token})


def require_redis(settings: ServiceSettings, what: str) -> None:
    if not settings.redis_url:
        raise SystemExit(f"platestream {what} needs PLATESTREAM_REDIS_URL; for one process use `platestream run`")


async def serve(app: object, settings: ServiceSettings) -> None:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises SIGTERM/SIGINT after its shutdown, which would kill the process before the
            # in-process workers finish and ack their batch; here the caller returns normally instead.
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info")  # type: ignore[arg-type]
    await GracefulServer(config).serve()


async def register_sources(services: object, sources: list[str]) -> None:
    from storage import cameras as repo
    from storage.errors import Conflict

    async with services.sessions() as session:  # type: ignore[attr-defined]
        for index, url in enumerate(sources, start=1):
            try:
                await repo.create_camera(session, name=f"source-{index}", url=url)
            except Conflict:
                await repo.update_camera(session, next(c.id for c in await repo.list_cameras(session)
                                                       if c.name == f"source-{index}"), url=url, enabled=True)
        await session.commit()


def batch_policy(settings: ServiceSettings) -> BatchPolicy:
    from workers.batching import BatchPolicy

    return BatchPolicy(settings.resolved_worker_batch(), settings.worker_max_wait_ms, settings.reclaim_idle_ms,
                       settings.worker_quick_after_ms)


async def run_embedded(settings: ServiceSettings, sources: list[str], workers: int) -> None:
    from gateway.app import close_services, create_app, open_services
    from gateway.metrics import create_metrics
    from platestream.commands.common import build_reader
    from workers.events import TrackerRegistry
    from workers.worker import Worker, WorkerContext

    services = await open_services(settings, create_metrics())
    try:
        await register_sources(services, sources)
        reader = await asyncio.to_thread(build_reader, settings, True, settings.engine_threads(workers))
        services.reader = reader
        context = WorkerContext(services.queue, reader, services.sessions, services.feed, services.metrics,
                                settings.data_dir, settings.max_pixels, TrackerRegistry(settings.tracker_config()))
        policy = batch_policy(settings)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(Worker(f"embedded-{i}", context, policy).run(stop)) for i in range(workers)]
        try:
            await serve(create_app(settings, services=services), settings)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await close_services(services)


def cmd_run(args: argparse.Namespace) -> int:
    settings = ensure_token(service_settings(args))
    configure_logging()
    workers = args.workers if args.workers is not None else settings.resolved_worker_tasks()
    asyncio.run(run_embedded(settings, [str(s) for s in args.source], workers))
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    from gateway.app import create_app

    settings = service_settings(args)
    require_redis(settings, "gateway")
    if not settings.api_token:
        raise SystemExit("platestream gateway needs PLATESTREAM_API_TOKEN")
    configure_logging()
    asyncio.run(serve(create_app(settings), settings))
    return 0


async def run_worker(settings: ServiceSettings, name: str, metrics_port: int | None) -> None:
    from prometheus_client import start_http_server

    from gateway.app import close_services, open_services
    from gateway.metrics import create_metrics
    from platestream.commands.common import build_reader
    from workers.events import TrackerRegistry
    from workers.worker import Worker, WorkerContext

    metrics = create_metrics()
    if metrics_port:
        start_http_server(metrics_port, registry=metrics.registry)
    services = await open_services(settings, metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)  # finish the batch in hand, ack it, then exit
    try:
        tasks = settings.resolved_worker_tasks()
        reader = await asyncio.to_thread(build_reader, settings, True, settings.engine_threads(tasks))
        context = WorkerContext(services.queue, reader, services.sessions, services.feed, metrics,
                                settings.data_dir, settings.max_pixels, TrackerRegistry(settings.tracker_config()))
        policy = batch_policy(settings)
        # Several batches in flight share one reader (the engines release the GIL); each task is its own
        # consumer in the group, so frames left pending by a dead process are reclaimed whatever its task.
        names = [name, *(f"{name}-{i}" for i in range(2, tasks + 1))]
        await asyncio.gather(*(Worker(n, context, policy).run(stop) for n in names))
    finally:
        await close_services(services)


def cmd_worker(args: argparse.Namespace) -> int:
    settings = service_settings(args)
    require_redis(settings, "worker")
    configure_logging()
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    asyncio.run(run_worker(settings, name, args.metrics_port))
    return 0


def cmd_rq_worker(args: argparse.Namespace) -> int:
    from redis import Redis
    from rq import Queue, Worker

    from gateway.reach import check_redis

    settings = service_settings(args)
    require_redis(settings, "rq-worker")
    asyncio.run(check_redis(settings.redis_url or ""))
    connection = Redis.from_url(settings.redis_url or "")
    queues = [Queue(name, connection=connection) for name in ("platestream-videos", settings.webhook_queue)]
    # The scheduler runs the delayed retries of failed webhook deliveries (RQ's Retry intervals).
    Worker(queues, connection=connection).work(with_scheduler=True)
    return 0


async def migrate(url: str) -> None:
    """Apply the migrations, once the database answers (else one line naming it, exit code 1)."""
    from gateway.reach import open_database
    from storage.db import upgrade

    await (await open_database(url)).dispose()
    await upgrade(url)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gateway.reach import without_password

    settings = service_settings(args)
    url = settings.resolved_database_url()
    asyncio.run(migrate(url))
    print(f"database at {without_password(url)} is up to date")
    return 0
