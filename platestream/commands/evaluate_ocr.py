"""`platestream eval-ocr DIR`: recognizer accuracy on labelled crops (labels.csv: file,text,region)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from pipeline.formats import load_regions
from pipeline.reader import merge_regions
from platestream.commands.common import (
    add_comparison_options,
    add_reader_options,
    build_recognizer,
    corrected,
    fraction,
    output_file,
    print_comparison,
    settings_from,
    write_details,
)
from training.compare import compare_to_baseline, read_baseline
from training.datasets import apply_corrections, read_corrections, read_ocr_set, split_of
from training.errors import DatasetError
from training.evaluate_ocr import OcrReport, RegionScore, evaluate_crops, region_group


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("eval-ocr", help="score the recognizer on labelled plate crops, per region")
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder with labels.csv (file,text,region)")
    parser.add_argument("--split", choices=["all", "train", "val"], default="val",
                        help="hash split as used by `train ocr` (default: the held-out val split)")
    parser.add_argument("--val-fraction", type=fraction, default=0.15, help="must match the training config")
    parser.add_argument("--json", dest="json_out", type=output_file, metavar="OUT")
    parser.add_argument("--corrections", type=Path, metavar="CSV",
                        help="label corrections (file,label,text), e.g. training/corrections/plates-ocr.csv")
    parser.add_argument("--only", metavar="COUNTRY",
                        help="score only the crops labelled with this country (us matches us-ca), e.g. to read "
                             "them with that country's --region")
    add_comparison_options(parser, "crop")
    add_reader_options(parser)
    parser.set_defaults(handler=run)


def print_report(report: OcrReport) -> None:
    print(f"{'region':<10}{'crops':>8}{'exact':>10}{'chars':>10}")
    overall = RegionScore(crops=report.crops, exact=report.exact, char_accuracy=report.char_accuracy)
    for name, s in [*report.regions.items(), ("all", overall)]:
        print(f"{name:<10}{s.crops:>8}{s.exact:>10.2%}{s.char_accuracy:>10.2%}")
    print(f"{report.ms_per_crop:.2f} ms per crop (batched)")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    samples = read_ocr_set(args.folder)
    baseline = read_baseline(args.baseline) if args.baseline else None
    if args.corrections:
        fixes = read_corrections(args.corrections)
        samples = corrected(samples, apply_corrections(args.folder, samples, fixes), args.corrections)
    if args.split != "all":
        samples = [s for s in samples if split_of(s.path.name, args.val_fraction) == args.split]
    if args.only:
        samples = [s for s in samples if region_group(s.region) == args.only]
        if not samples:
            raise DatasetError(f"no crops labelled {args.only!r} in {args.folder / 'labels.csv'} ({args.split} split)")
    region = merge_regions(tuple(settings.regions.split(",")), load_regions(settings.regions_file))
    recognizer = build_recognizer(settings)
    with tqdm(total=len(samples), unit="crop", desc="eval-ocr") as bar:
        report, outcomes = evaluate_crops(recognizer, samples, region, on_batch=bar.update)
    print_report(report)
    if args.json_out:
        args.json_out.write_text(json.dumps(report.model_dump(), indent=2) + "\n")
    if args.details:
        write_details(args.details, outcomes)
    if baseline:
        print_comparison(compare_to_baseline(outcomes, baseline), "crop")
    return 0
