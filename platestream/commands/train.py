"""`platestream train detector|ocr --config FILE [key=value ...]`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import training
from training.config import load_config, new_run_dir
from training.schemas import Kind, check_config

CONFIGS = Path(training.__file__).parent / "configs"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("train", help="train the plate detector or the recognizer")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    kinds_help = (("detector", "YOLO plate detector (ultralytics)"), ("ocr", "EasyOCR recognizer"),
                  ("glyphs", "glyph classifier of the glyph check (minutes on a CPU; not resumable)"))
    for kind, help_text in kinds_help:
        p = kinds.add_parser(kind, help=help_text)
        p.add_argument("--config", type=Path, default=CONFIGS / f"{kind}.yaml", help="experiment YAML")
        p.add_argument("overrides", nargs="*", metavar="key=value", help="override config values")
        p.add_argument("--runs", type=Path, default=Path("runs"), help="folder for run folders")
        p.add_argument("--name", help="suffix for the run folder name")
        if kind != "glyphs":
            p.add_argument("--resume", type=Path, metavar="RUN", help="continue the run in this folder")
        p.set_defaults(handler=run)


def checked_config(kind: Kind, args: argparse.Namespace) -> dict[str, Any]:
    """The experiment YAML with the overrides applied, every key and value checked before anything is loaded."""
    return check_config(kind, load_config(args.config, args.overrides))


def run(args: argparse.Namespace) -> int:
    if args.kind == "glyphs":
        from training.glyphs import train_glyphs

        engine = train_glyphs(checked_config("glyphs", args), new_run_dir(args.runs, "glyphs", args.name))
        print(f"glyph engine: {engine} (and {engine.with_suffix('.pt').name} beside it)")
        return 0
    if args.kind == "detector":
        from training.detector import resume_detector, train_detector

        if args.resume:
            best = resume_detector(args.resume)
        else:
            best = train_detector(checked_config("detector", args), new_run_dir(args.runs, "detector", args.name))
    else:
        from training.ocr import resume_ocr, train_ocr

        if args.resume:
            best = resume_ocr(args.resume)
        else:
            best = train_ocr(checked_config("ocr", args), new_run_dir(args.runs, "ocr", args.name))
    print(f"best weights: {best}")
    return 0
