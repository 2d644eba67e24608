"""`platestream` command line: one subcommand per module in platestream.commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from engines.errors import EngineError
from pipeline.errors import PipelineError
from platestream import __version__
from platestream.commands import (
    bench,
    evaluate,
    evaluate_detect,
    evaluate_ocr,
    export,
    pseudo_label,
    recognize,
    service,
    train,
)
from platestream.errors import ConfigurationError, ServiceUnavailable
from training.errors import TrainingError
from training.schemas import describe

EXIT_USAGE = 2  # bad arguments, config or engine files: nothing was processed
EXIT_UNAVAILABLE = 1  # a service the process needs did not answer: the same command may work later
COMMANDS = (recognize, evaluate, evaluate_ocr, evaluate_detect, train, pseudo_label, export, service, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="platestream", description="License plate recognition for camera streams")
    parser.add_argument("--version", action="version", version=f"platestream {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Before anything imports ultralytics: no hub checks and no pip installs at run time (it would otherwise
    # try to install optional packages, e.g. pi-heif when a HEIC image arrives).
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.handler(args))
    except (EngineError, PipelineError, TrainingError, ConfigurationError) as exc:
        print(f"platestream: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ServiceUnavailable as exc:  # the database or Redis did not answer at start-up
        print(f"platestream: error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ValidationError as exc:  # a PLATESTREAM_* setting out of range or not one of its choices
        print(f"platestream: error: invalid settings: {describe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
