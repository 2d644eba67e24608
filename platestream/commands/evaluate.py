"""`platestream eval DIR`: end-to-end accuracy and speed on a labelled folder (labels.csv: file,x,y,w,h,plate)."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from tqdm import tqdm

from platestream.commands.common import add_reader_options, build_reader, settings_from
from training.datasets import read_endtoend
from training.errors import DatasetError
from training.evaluate import EvalReport, SampleOutcome, evaluate


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("eval", help="score detection and reading on a labelled folder")
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder with labels.csv (file,x,y,w,h,plate)")
    parser.add_argument("--json", dest="json_out", type=Path, metavar="OUT", help="write the figures as JSON")
    parser.add_argument("--details", type=Path, metavar="CSV", help="write one row per image (label, read, ms)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images")
    add_reader_options(parser)
    parser.set_defaults(handler=run)


def print_report(report: EvalReport) -> None:
    rows = [
        ("images", f"{report.images}"),
        ("detection recall (IoU >= 0.5)", f"{report.detection_recall:.2%}"),
        ("exact plate (top 1)", f"{report.exact:.2%}"),
        ("plate in top 5", f"{report.top5:.2%}"),
        ("character accuracy (1 - CER)", f"{report.char_accuracy:.2%}"),
        ("false positives per image", f"{report.false_positives_per_image:.3f}"),
        ("ms per image p50 / p95", f"{report.ms_per_image_p50:.1f} / {report.ms_per_image_p95:.1f}"),
        ("images per second", f"{report.images_per_second:.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>12}")


def write_details(path: Path, outcomes: list[SampleOutcome]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(SampleOutcome.model_fields))
        writer.writeheader()
        writer.writerows(o.model_dump() for o in outcomes)


def run(args: argparse.Namespace) -> int:
    samples = read_endtoend(args.folder)[: args.limit]
    missing = [s.path.name for s in samples if not s.path.is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} labelled file(s) missing from {args.folder}, e.g. {missing[0]}")
    settings = settings_from(args)
    reader = build_reader(settings)
    with tqdm(total=len(samples), unit="img", desc="eval") as bar:
        def tick(outcome: SampleOutcome) -> None:
            bar.update()
            bar.set_postfix_str(f"{outcome.label} -> {outcome.predicted or '-'}")

        report, outcomes = evaluate(reader, samples, settings.max_pixels, tick)
    print_report(report)
    if args.json_out:
        args.json_out.write_text(json.dumps(report.model_dump(), indent=2) + "\n")
    if args.details:
        write_details(args.details, outcomes)
    return 0
