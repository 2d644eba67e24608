"""`platestream pseudo-label SOURCE OUT`: a crop set of sure reads from unlabelled photos, for `train ocr`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from platestream.commands.common import add_reader_options, build_reader, output_folder, percent, settings_from
from training.pseudo_label import DEFAULT_MIN_CONFIDENCE, DEFAULT_REGION, PseudoConfig, write_pseudo_set


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "pseudo-label", help="cut and read plates of unlabelled photos: a crop set for train ocr's extra_data",
        description="Plates are cut at the photos' YOLO boxes (a labels/ folder beside images/) or, without labels, "
                    "where the detector finds them. A plate is kept only when all nine crop framings read the same "
                    "text at high confidence. OUT gets the crops and labels.csv (file,text,region).",
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="folder of photos (searched recursively)")
    parser.add_argument("out", type=output_folder, metavar="OUT", help="folder for the crops and labels.csv")
    parser.add_argument("--min-confidence", type=percent, default=DEFAULT_MIN_CONFIDENCE,
                        help="every framing's read must be at least this sure, 0..100 (default %(default)s)")
    parser.add_argument("--label-region", default=DEFAULT_REGION,
                        help="the crops' region in labels.csv, for oversample: (default %(default)s)")
    add_reader_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = PseudoConfig(min_confidence=args.min_confidence, region=args.label_region)
    report = write_pseudo_set(build_reader(settings_from(args)), args.source, args.out, config)
    for problem in report.unreadable:
        print(f"platestream: skipped {problem}", file=sys.stderr)
    print(f"{report.images} photos, {report.plates} plates, {report.kept} kept -> {args.out / 'labels.csv'}"
          + (f"; {len(report.unreadable)} unreadable file(s) skipped" if report.unreadable else ""))
    return 0
