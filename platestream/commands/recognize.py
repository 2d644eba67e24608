"""`platestream recognize IMAGE...`: plate reads per image, as a table or OpenALPR-style JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.decode import decode_image
from pipeline.errors import ImageError
from pipeline.openalpr import error_json, result_json
from pipeline.reader import PlateReader
from pipeline.records import Frame
from platestream.commands.common import add_reader_options, build_reader, settings_from

EXIT_SOME_FAILED = 1


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("recognize", help="read plates in image files")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument("--json", action="store_true", help="one OpenALPR-style JSON object per image, per line")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any image could not be read")
    add_reader_options(parser)
    parser.set_defaults(handler=run)


def load_frames(paths: list[Path], max_pixels: int) -> Iterator[tuple[Path, Frame | ImageError | OSError]]:
    for path in paths:
        try:
            yield path, decode_image(path.read_bytes(), str(path), max_pixels)
        except (ImageError, OSError) as exc:
            yield path, exc


def recognize_paths(reader: PlateReader, paths: list[Path], max_pixels: int, batch: int,
                    top_n: int) -> Iterator[dict[str, Any]]:
    """Results in input order; bad files yield an error object and never stop the rest."""
    pending: list[tuple[Path, Frame | ImageError | OSError]] = []

    def flush() -> Iterator[dict[str, Any]]:
        frames = [item for _, item in pending if isinstance(item, Frame)]
        results = iter(reader.read(frames))
        for path, item in pending:
            yield result_json(next(results), top_n) if isinstance(item, Frame) else error_json(str(path), item)
        pending.clear()

    for path, item in load_frames(paths, max_pixels):
        pending.append((path, item))
        if sum(isinstance(i, Frame) for _, i in pending) >= batch:
            yield from flush()
    yield from flush()


def print_table(result: dict[str, Any]) -> None:
    if "error" in result:
        print(f"{result['file']}: error ({result['error']['code']}): {result['error']['message']}")
        return
    print(f"{result['file']}: {len(result['results'])} plate(s) in {result['processing_time_ms']:.0f} ms")
    for plate in result["results"]:
        others = ", ".join(c["plate"] for c in plate["candidates"][1:4])
        box = plate["box"]
        print(f"  {plate['plate']:<10} {plate['confidence']:6.2f}%  at {box['x']},{box['y']} "
              f"{box['width']}x{box['height']}  (also: {others or '-'})")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    reader = build_reader(settings)
    failed = 0
    for result in recognize_paths(reader, args.images, settings.max_pixels, settings.max_batch, settings.top_n):
        failed += "error" in result
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print_table(result)
    if failed:
        print(f"platestream: {failed} of {len(args.images)} file(s) could not be read", file=sys.stderr)
    return EXIT_SOME_FAILED if failed and args.strict else 0
