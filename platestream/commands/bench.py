"""`platestream bench core DIR` and `platestream bench service`: speed of the core and of the whole service."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from platestream.commands.common import (
    non_negative_int,
    output_file,
    positive_float,
    positive_int,
    settings_from,
)

T = TypeVar("T")


def comma_list(kind: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    """An argparse type for "a,b,c" lists; a bad item is reported as a usage error."""

    def parse(text: str) -> tuple[T, ...]:
        try:
            values = tuple(kind(item.strip()) for item in text.split(",") if item.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if not values:
            raise argparse.ArgumentTypeError("expected a comma-separated list")
        return values

    return parse


def one_of(names: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}")
        return text

    return parse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from platestream.bench.core import ENGINE_VARIANTS

    bench = sub.add_parser("bench", help="measure the speed of the core or of the whole service")
    kinds = bench.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    core = kinds.add_parser("core", help="images/s and ms per stage per engine variant x batch x threads")
    core.add_argument("folder", type=Path, metavar="DIR", help="folder of images (e.g. a dataset's frames)")
    core.add_argument("--engines", type=comma_list(one_of(ENGINE_VARIANTS)), default=ENGINE_VARIANTS,
                      help=f"comma-separated variants (default: {','.join(ENGINE_VARIANTS)})")
    core.add_argument("--batch", dest="batches", type=comma_list(positive_int), default=(1, 4, 8),
                      help="comma-separated batch sizes (default: 1,4,8)")
    core.add_argument("--threads", dest="thread_counts", type=comma_list(non_negative_int), default=None,
                      help="comma-separated CPU threads per engine, 0 = all cores (default: 1,all cores)")
    core.add_argument("--streams", type=comma_list(positive_int), default=(1,),
                      help="comma-separated counts of batches read at once, from threads sharing the engines "
                           "(default: 1)")
    core.add_argument("--limit", type=positive_int, help="use only the first N images")
    core.add_argument("--warmup", type=non_negative_int, default=2, help="untimed batches before each measurement")
    core.add_argument("--models", type=Path,
                      help="folder of the engine files (default: that of PLATESTREAM_DETECTOR, else the shipped ones)")
    core.add_argument("--device", help="cpu, cuda or cuda:N (default PLATESTREAM_DEVICE)")
    core.add_argument("--json", dest="json_out", type=output_file, metavar="OUT", help="write the figures as JSON")
    core.set_defaults(handler=cmd_core)

    service = kinds.add_parser("service", help="throughput, latency and frame accounting of the running service")
    service.add_argument("--cameras", type=positive_int, default=1, help="simulated RTSP cameras")
    service.add_argument("--fps", type=positive_float, default=5.0, help="frames analysed per second per camera")
    service.add_argument("--seconds", type=positive_float, default=30.0, help="length of the measurement")
    service.add_argument("--mode", choices=("embedded", "redis"), default="embedded",
                         help="embedded: `platestream run` (SQLite, in-process queue); redis: gateway + workers "
                              "on Redis and Postgres (PLATESTREAM_REDIS_URL / _DATABASE_URL, else local ones)")
    service.add_argument("--workers", type=positive_int, default=1,
                         help="worker tasks (embedded) or worker processes (redis)")
    service.add_argument("--threads", type=non_negative_int, help="PLATESTREAM_THREADS of the service processes")
    service.add_argument("--tasks", type=positive_int,
                         help="PLATESTREAM_WORKER_TASKS of each worker process (redis mode; default: one per core)")
    service.add_argument("--dataset", type=Path, help="endtoend-us folder the camera video is made from")
    service.add_argument("--json", dest="json_out", type=output_file, metavar="OUT", help="write the figures as JSON")
    service.set_defaults(handler=cmd_service)


def cmd_core(args: argparse.Namespace) -> int:
    import os

    from platestream.bench.core import CoreOptions, core_table, run_core
    from platestream.bench.report import write_json

    if not args.folder.is_dir():
        print(f"platestream: error: {args.folder} is not a folder", file=sys.stderr)
        return 2
    threads = args.thread_counts or tuple(dict.fromkeys((1, os.cpu_count() or 1)))
    options = CoreOptions(args.folder, args.engines, args.batches, threads, args.streams, args.limit,
                          args.warmup, args.models)
    report = run_core(options, settings_from(args))
    print(core_table(report))
    write_json(args.json_out, report)
    return 0 if report["results"] else 1  # nothing could be measured: every variant was skipped


def cmd_service(args: argparse.Namespace) -> int:
    from platestream.bench.report import write_json
    from platestream.bench.service import run_service, service_table
    from platestream.bench.stack import BenchError, ServiceOptions

    options = ServiceOptions(cameras=args.cameras, fps=args.fps, seconds=args.seconds, mode=args.mode,
                             workers=args.workers, threads=args.threads, tasks=args.tasks, dataset=args.dataset)
    try:
        report = run_service(options)
    except BenchError as exc:
        print(f"platestream: bench service failed: {exc}", file=sys.stderr)
        return 1
    print(service_table(report))
    write_json(args.json_out, report)
    return 0
