"""`platestream export detector|recognizer` (ONNX + PyTorch engines) and `platestream compile` (TensorRT)."""

from __future__ import annotations

import argparse
from pathlib import Path

from platestream.commands.common import detector_size, output_file, output_folder, positive_int, share
from platestream.models import SHIPPED_MODELS

DEFAULT_CALIBRATION = Path("../shared/datasets/plates-detect/images/train")
DEFAULT_CHECK = {"detector": Path("../shared/datasets/plates-detect"),
                 "recognizer": Path("../shared/datasets/plates-ocr")}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("export", help="export trained weights to engine files")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    det = kinds.add_parser("detector", help="ultralytics best.pt -> detector.onnx + detector.pt")
    det.add_argument("weights", type=Path, help="best.pt of a `train detector` run")
    det.add_argument("--imgsz", type=detector_size, default=640, help="default inference size stored in the metadata")
    rec = kinds.add_parser("recognizer", help="`train ocr` best.pt (or EasyOCR english_g2) -> recognizer.onnx + .pt")
    rec.add_argument("weights", type=Path, nargs="*",
                     help="checkpoint; several: their parameters are averaged (e.g. a run's last epochs); "
                          "none: EasyOCR's pretrained english_g2")
    for p in (det, rec):
        p.add_argument("--out", type=output_folder, default=SHIPPED_MODELS,
                       help="output folder (default: shipped models)")
        p.add_argument("--int8", action="store_true",
                       help="also write an INT8 ONNX file (onnxruntime quantization), kept only if its accuracy holds")
        p.add_argument("--int8-check", type=Path, metavar="DIR",
                       help="held-out data the INT8 file is scored on against FP32 (default: plates-detect's val "
                            "split for detectors, plates-ocr's held-out split for recognizers)")
        p.add_argument("--int8-tolerance", type=share, default=0.01,
                       help="largest drop of mAP50 / exact the INT8 file may show (default 0.01)")
        p.add_argument("--int8-limit", type=positive_int, help="score only the first N held-out files")
        p.add_argument("--no-int8-check", action="store_true", help="keep the INT8 file unscored")
        p.set_defaults(handler=run_export)
    det.add_argument("--calibration", type=Path, default=DEFAULT_CALIBRATION,
                     help=f"images that calibrate the INT8 detector (default: {DEFAULT_CALIBRATION})")
    det.add_argument("--calibration-count", type=positive_int, default=100, help="how many of them to use")

    comp = sub.add_parser("compile", help="build a TensorRT engine from an exported ONNX file (needs tensorrt)")
    comp.add_argument("onnx", type=Path)
    comp.add_argument("--out", type=output_file, help="engine path (default: beside the ONNX file, .engine)")
    comp.add_argument("--fp32", action="store_true", help="no FP16")
    comp.add_argument("--max-batch", type=positive_int, default=32)
    comp.set_defaults(handler=run_compile)


def run_export(args: argparse.Namespace) -> int:
    from engines import ModelKind
    from training.export import export_detector, export_recognizer
    from training.int8_check import check_data
    from training.quantize import quantize_int8

    checked = args.int8 and not args.no_int8_check
    check_folder = args.int8_check or DEFAULT_CHECK[args.kind]
    if checked:  # a missing check set fails before the export, not after it
        check_data(ModelKind(args.kind), check_folder, args.int8_limit)
    if args.kind == "detector":
        onnx_path, pt_path = export_detector(args.weights, args.out, imgsz=args.imgsz)
    else:
        onnx_path, pt_path = export_recognizer(args.weights, args.out)
    print(f"wrote {onnx_path}\nwrote {pt_path}")
    if args.int8:
        calibration = (args.calibration, args.calibration_count) if args.kind == "detector" else (None, 0)
        int8_path = quantize_int8(onnx_path, *calibration)
        print(f"wrote {int8_path}")
        if checked:
            report_int8_check(onnx_path, int8_path, check_folder, args)
    return 0


def report_int8_check(onnx_path: Path, int8_path: Path, folder: Path, args: argparse.Namespace) -> None:
    from training.int8_check import check_int8

    check = check_int8(onnx_path, int8_path, folder, args.int8_tolerance, args.int8_limit)
    verdict = "kept" if check.holds else f"removed {int8_path}: it costs more than {check.tolerance:g}"
    print(f"INT8 check on {check.samples} held-out files of {folder}: {check.metric} FP32 {check.fp32:.4f}, "
          f"INT8 {check.int8:.4f}; {verdict}")


def run_compile(args: argparse.Namespace) -> int:
    from engines.trt_engine import compile_onnx

    out = args.out or args.onnx.with_suffix(".engine")
    print(f"wrote {compile_onnx(args.onnx, out, fp16=not args.fp32, max_batch=args.max_batch)}")
    return 0
