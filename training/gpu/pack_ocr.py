"""Pack what a GPU box needs to fine-tune the recognizer: plate crops at the recognizer's input height, and wheels.

    .gpu-ocr/plates-ocr/   ../shared/datasets/plates-ocr with every crop at most --height px high (the recognizer
                           reads 64; augmentation only shrinks), labels.csv copied: file names stay, so label
                           corrections and exclusions still apply
    .gpu-ocr/<name>/       each --extra crop folder (e.g. runs/pseudo-detect, from `platestream pseudo-label`)
    .gpu-ocr/wheels/       what `platestream train ocr` imports that the box lacks: easyocr (its network definition
                           only), pydantic and friends, rapidfuzz
    .gpu-ocr/pack.json     what was packed

`training/gpu/ocr.sh` trains from it (training/gpu/README.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from training.datasets import read_csv
from training.errors import DatasetError
from training.gpu.pack import BOX_PYTHON, BOX_WHEELS, MIB, TRAVEL_LIMIT_MIB, PackError, pack_wheels, tree_bytes

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT.parent / "shared" / "datasets" / "plates-ocr"
# The detector's wheels less ultralytics and its helpers (the recognizer trains without them), plus easyocr.
OCR_WHEELS = (*(w for w in BOX_WHEELS if w not in ("ultralytics", "ultralytics-thop", "onnxslim")), "easyocr")


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    if h <= height:
        return image
    return cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def pack_crops(source: Path, dest: Path, height: int, quality: int, limit: int | None = None) -> int:
    """Copy a crop folder (labels.csv: file,text,region) with its crops fitted to `height`; returns the crops."""
    rows = read_csv(source / "labels.csv", {"file", "text", "region"})[:limit]
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for row in rows:
        name = row["file"]
        image = cv2.imdecode(np.fromfile(source / name, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise PackError(f"{source / name}: not a readable image")
        suffix = Path(name).suffix.lower()
        params = [cv2.IMWRITE_JPEG_QUALITY, quality] if suffix in (".jpg", ".jpeg") else []
        ok, encoded = cv2.imencode(suffix, fit_height(image, height), params)
        if not ok:
            raise PackError(f"{source / name}: could not encode as {suffix}")
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(encoded.tobytes())
    with (dest / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["file", "text", "region"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def folder_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / MIB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu.pack_ocr", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu-ocr", help="pack folder (ignored by git)")
    parser.add_argument("--source", type=Path, default=SOURCE, help="crop folder to pack (labels.csv)")
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more crop folders (repeatable)")
    parser.add_argument("--height", type=int, default=64, help="crop height at most")
    parser.add_argument("--quality", type=int, default=70, help="JPEG quality of re-encoded .jpg crops")
    parser.add_argument("--limit", type=int, help="pack only the first N crops of each folder")
    parser.add_argument("--no-wheels", action="store_true", help="skip the wheel download (keeps no wheels)")
    parser.add_argument("--python-version", default=BOX_PYTHON, help="the box's Python, for binary wheels")
    args = parser.parse_args(argv)
    if args.height < 16 or not 1 <= args.quality <= 100:
        parser.error("need --height >= 16 and 1 <= --quality <= 100")
    out: Path = args.out
    folders = {"plates-ocr": args.source, **{extra.name: extra for extra in args.extra}}
    try:
        out.mkdir(parents=True, exist_ok=True)
        counts = {name: pack_crops(source, out / name, args.height, args.quality, args.limit)
                  for name, source in folders.items()}
        wheels = pack_wheels(out / "wheels", OCR_WHEELS, args.no_wheels, args.python_version)
    except (PackError, DatasetError, OSError) as exc:
        print(f"pack_ocr: error: {exc}", file=sys.stderr)
        return 2
    manifest = {"folders": {name: {"source": str(folders[name]), "crops": n} for name, n in counts.items()},
                "height": args.height, "wheels": [w.name for w in wheels]}
    (out / "pack.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name, n in counts.items():
        print(f"{out / name}: {n} crops, {folder_mib(out / name):.1f} MiB")
    travel = (sum(tree_bytes(ROOT, out).values()) / MIB) + folder_mib(out)
    print(f"{out}: {folder_mib(out):.1f} MiB; travels with carry [{out.name}]: {travel:.1f} MiB of {TRAVEL_LIMIT_MIB}")
    return 0 if travel <= TRAVEL_LIMIT_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
