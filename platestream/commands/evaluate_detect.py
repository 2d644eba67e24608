"""`platestream eval-detect DIR`: mAP of the detector engine on a YOLO folder, run as the product runs it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from engines import ModelKind, check_kind, create_engine
from platestream.commands.common import add_reader_options, output_file, settings_from
from training.evaluate_detect import DetectReport, evaluate_detector, read_yolo_split


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("eval-detect", help="score the detector engine on a YOLO folder (mAP50, mAP50-95)")
    parser.add_argument("folder", type=Path, metavar="DIR", help="YOLO folder: images/<split>, labels/<split>")
    parser.add_argument("--split", choices=["train", "val"], default="val")
    parser.add_argument("--json", dest="json_out", type=output_file, metavar="OUT")
    add_reader_options(parser)
    parser.set_defaults(handler=run)


def print_report(report: DetectReport) -> None:
    print(f"images {report.images}, plates {report.plates}")
    print(f"mAP50 {report.map50:.4f}   mAP50-95 {report.map50_95:.4f}")
    print(f"at the confidence threshold: precision {report.precision:.4f}, recall {report.recall:.4f}")
    print(f"{report.ms_per_image_p50:.1f} ms per image (p50)")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    samples = read_yolo_split(args.folder, args.split)
    engine = check_kind(create_engine(settings.detector, settings.device, settings.threads), ModelKind.DETECTOR)
    config = settings.reader_config().detector
    with tqdm(total=len(samples), unit="img", desc="eval-detect") as bar:
        report = evaluate_detector(engine, config, samples, settings.max_pixels, bar.update)
    print_report(report)
    if args.json_out:
        args.json_out.write_text(json.dumps(report.model_dump(), indent=2) + "\n")
    return 0
