"""`platestream eval DIR`: end-to-end accuracy and speed on a labelled folder (labels.csv: file,x,y,w,h,plate)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from platestream.commands.common import (
    add_comparison_options,
    add_reader_options,
    build_reader,
    corrected,
    output_file,
    positive_int,
    print_comparison,
    settings_from,
    write_details,
)
from training.compare import compare_to_baseline, read_baseline, wilson_interval
from training.datasets import apply_endtoend_corrections, read_corrections, read_endtoend
from training.errors import DatasetError
from training.evaluate import EvalReport, SampleOutcome, evaluate


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("eval", help="score detection and reading on a labelled folder")
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder with labels.csv (file,x,y,w,h,plate)")
    parser.add_argument("--json", dest="json_out", type=output_file, metavar="OUT", help="write the figures as JSON")
    add_comparison_options(parser, "image")
    parser.add_argument("--labels", type=Path, metavar="CSV",
                        help="labels in that format kept elsewhere, paths relative to DIR (default DIR/labels.csv)")
    parser.add_argument("--corrections", type=Path, metavar="CSV",
                        help="plate labels fixed by eye (file,label,text), e.g. training/corrections/endtoend-us.csv")
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N images")
    add_reader_options(parser)
    parser.set_defaults(handler=run)


def with_interval(share: float, n: int) -> str:
    low, high = wilson_interval(round(share * n), n)
    return f"{share:.2%} ({low:.1%}-{high:.1%})"


def print_report(report: EvalReport) -> None:
    n = report.images
    rows = [
        ("images", f"{n}"),
        ("detection recall (IoU >= 0.5)", with_interval(report.detection_recall, n)),
        ("exact plate (top 1)", with_interval(report.exact, n)),
        ("plate in top 5", with_interval(report.top5, n)),
        ("character accuracy (1 - CER)", f"{report.char_accuracy:.2%}"),
        ("false positives per image", f"{report.false_positives_per_image:.3f}"),
        ("ms per image p50 / p95", f"{report.ms_per_image_p50:.1f} / {report.ms_per_image_p95:.1f}"),
        ("images per second", f"{report.images_per_second:.2f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>24}")
    print("(in brackets: 95% confidence interval)")


def run(args: argparse.Namespace) -> int:
    samples = read_endtoend(args.folder, args.labels)[: args.limit]
    baseline = read_baseline(args.baseline) if args.baseline else None
    if args.corrections:
        fixes = read_corrections(args.corrections)
        samples = corrected(samples, apply_endtoend_corrections(args.folder, samples, fixes), args.corrections)
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
    if baseline:
        print_comparison(compare_to_baseline(outcomes, baseline), "image")
    return 0
