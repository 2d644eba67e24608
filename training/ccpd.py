"""CCPD (Chinese City Parking Dataset): labels from file names, exported as YOLO folders or OCR plate crops.

A CCPD file name is its label, seven '-'-separated fields:

    025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg
    area-tilt(h_v)-box(x1&y1_x2&y2)-corners(br_bl_tl_tr)-plate indices-brightness-blur

The plate indices point into PROVINCES (first), ALPHABETS (second) and ADS (the rest): 7 indices for the
blue plates of CCPD2019, 8 for the green new-energy plates of CCPD2020. The lists are CCPD's own.
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline.records import Box
from training.datasets import split_of
from training.errors import DatasetError

log = logging.getLogger(__name__)

PROVINCES = ("皖", "沪", "津", "渝", "冀", "晋", "蒙", "辽", "吉", "黑", "苏", "浙", "京", "闽", "赣", "鲁", "豫",
             "鄂", "湘", "粤", "桂", "琼", "川", "贵", "云", "藏", "陕", "甘", "青", "宁", "新", "警", "学", "O")
ALPHABETS = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "Q", "R", "S", "T", "U", "V",
             "W", "X", "Y", "Z", "O")
ADS = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "Q", "R", "S", "T", "U", "V", "W",
       "X", "Y", "Z", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "O")
# The last entry of each list, "O", is CCPD's "unknown character" mark: Chinese plates have no letter O.
UNKNOWN = "O"
PLATE_LENGTHS = (7, 8)  # blue plates (CCPD2019) and green new-energy plates (CCPD2020)
CROP_SIZE = (288, 96)  # width, height: 3:1 like a Chinese plate (440 x 140 mm)
REGION = "cn"


@dataclass(frozen=True)
class CcpdLabel:
    box: Box
    corners: tuple[tuple[float, float], ...]  # 4 points in the file's order: br, bl, tl, tr
    plate: str
    tilt: tuple[int, int]  # horizontal, vertical tilt in degrees
    brightness: int
    blur: int


def _ints(field: str, sep: str, what: str) -> list[int]:
    try:
        return [int(part) for part in field.split(sep)]
    except ValueError:
        raise DatasetError(f"{what} {field!r} is not {sep!r}-separated integers") from None


def _int(field: str, what: str) -> int:
    values = _ints(field, "_", what)
    if len(values) != 1:
        raise DatasetError(f"{what} {field!r} is not one integer")
    return values[0]


def _points(field: str, count: int, what: str) -> tuple[tuple[float, float], ...]:
    points = []
    for item in field.split("_"):
        xy = _ints(item, "&", what)
        if len(xy) != 2:
            raise DatasetError(f"{what} point {item!r} is not x&y")
        points.append((float(xy[0]), float(xy[1])))
    if len(points) != count:
        raise DatasetError(f"{what} {field!r} has {len(points)} point(s), expected {count}")
    return tuple(points)


def decode_plate(indices: Sequence[int]) -> str:
    """CCPD plate indices -> text, e.g. [0, 0, 22, 27, 27, 33, 16] -> "皖AY339S"."""
    if len(indices) not in PLATE_LENGTHS:
        raise DatasetError(f"plate has {len(indices)} indices, expected 7 (blue) or 8 (green)")
    tables = (PROVINCES, ALPHABETS, *([ADS] * (len(indices) - 2)))
    chars = []
    for position, (index, table) in enumerate(zip(indices, tables, strict=True)):
        if not 0 <= index < len(table):
            raise DatasetError(f"plate index {index} at position {position} is outside 0..{len(table) - 1}")
        chars.append(table[index])
    return "".join(chars)


def encode_plate(plate: str) -> tuple[int, ...]:
    """The inverse of decode_plate, for writing CCPD-style names."""
    if len(plate) not in PLATE_LENGTHS:
        raise DatasetError(f"plate {plate!r} has {len(plate)} characters, expected 7 or 8")
    tables = (PROVINCES, ALPHABETS, *([ADS] * (len(plate) - 2)))
    try:
        return tuple(table.index(char) for char, table in zip(plate, tables, strict=True))
    except ValueError:
        raise DatasetError(f"plate {plate!r} has a character outside CCPD's lists at its position") from None


def parse_ccpd_name(name: str) -> CcpdLabel:
    """Parse a CCPD file name (a bare name or a path; the extension is ignored)."""
    stem = Path(name).stem
    fields = stem.split("-")
    if len(fields) != 7:
        raise DatasetError(f"{name!r} is not a CCPD name: {len(fields)} '-'-separated field(s), expected 7 "
                           "(area-tilt-box-corners-plate-brightness-blur)")
    area, tilt, box, corners, plate, brightness, blur = fields
    try:
        _int(area, "area")  # checked only to reject names that merely happen to have seven fields
        tilts = _ints(tilt, "_", "tilt")
        if len(tilts) != 2:
            raise DatasetError(f"tilt {tilt!r} is not h_v")
        (x1, y1), (x2, y2) = _points(box, 2, "box")
        if x2 <= x1 or y2 <= y1:
            raise DatasetError(f"box {box!r} is empty or not top-left_bottom-right")
        return CcpdLabel(
            box=Box(x1, y1, x2, y2),
            corners=_points(corners, 4, "corners"),
            plate=decode_plate(_ints(plate, "_", "plate")),
            tilt=(tilts[0], tilts[1]),
            brightness=_int(brightness, "brightness"),
            blur=_int(blur, "blur"),
        )
    except DatasetError as exc:
        raise DatasetError(f"{name!r}: {exc}") from None


def format_ccpd_name(label: CcpdLabel, area: int = 0, suffix: str = ".jpg") -> str:
    """A CCPD file name for label (coordinates rounded to pixels, as in CCPD)."""

    def point(x: float, y: float) -> str:
        return f"{round(x)}&{round(y)}"

    b = label.box
    fields = [
        f"{area:03d}",
        f"{label.tilt[0]}_{label.tilt[1]}",
        f"{point(b.x1, b.y1)}_{point(b.x2, b.y2)}",
        "_".join(point(x, y) for x, y in label.corners),
        "_".join(str(i) for i in encode_plate(label.plate)),
        str(label.brightness),
        str(label.blur),
    ]
    return "-".join(fields) + suffix


def labelled_images(images: Path, skipped: list[Path]) -> Iterator[tuple[Path, CcpdLabel]]:
    """Every images/**/*.jpg with a valid CCPD name, in a stable order; malformed names go to skipped.

    CCPD's ccpd_np folder (cars without plates) has plain names and is skipped this way too.
    """
    if not images.is_dir():
        raise DatasetError(f"{images} is not a folder")
    seen: set[str] = set()
    for path in sorted(images.rglob("*.jpg")):
        try:
            label = parse_ccpd_name(path.name)
        except DatasetError as exc:
            log.debug("skipping %s: %s", path, exc)
            skipped.append(path)
            continue
        if path.name in seen:  # outputs are named by file name; a second copy would overwrite the first
            log.warning("skipping %s: a file of the same name was already exported", path)
            skipped.append(path)
            continue
        seen.add(path.name)
        yield path, label


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the header alone: PIL opens lazily, so no pixels are decoded."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, Image.DecompressionBombError):
        return None


def yolo_line(box: Box, width: int, height: int) -> str | None:
    """'0 cx cy w h' normalised, with the box clipped to the image; None when nothing of it is inside."""
    x1, x2 = (min(max(v, 0.0), width) for v in (box.x1, box.x2))
    y1, y2 = (min(max(v, 0.0), height) for v in (box.y1, box.y2))
    if x2 <= x1 or y2 <= y1:
        return None
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    return f"0 {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}\n"


def place(source: Path, dest: Path, link: bool) -> None:
    dest.unlink(missing_ok=True)  # a rerun into the same folder replaces its earlier output
    if link:
        dest.symlink_to(source.resolve())
    else:
        shutil.copyfile(source, dest)


def export_ccpd_to_yolo(images: Path, out: Path, val_fraction: float = 0.1, link: bool = True) -> dict[str, int]:
    """Write out/images/{train,val} (links, or copies) and out/labels/{train,val} for ultralytics.

    The split is split_of(file name), so it does not depend on the machine or on which folders were walked.
    """
    counts = {"train": 0, "val": 0, "skipped": 0}
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    skipped: list[Path] = []
    for path, label in labelled_images(images, skipped):
        size = image_size(path)
        line = yolo_line(label.box, *size) if size else None
        if line is None:
            log.warning("skipping %s: unreadable image or box outside it", path)
            skipped.append(path)
            continue
        split = split_of(path.name, val_fraction)
        place(path, out / "images" / split / path.name, link)
        (out / "labels" / split / f"{path.stem}.txt").write_text(line)
        counts[split] += 1
    counts["skipped"] = len(skipped)
    (out / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: plate\n")
    return counts


def rectify(image: np.ndarray, corners: Sequence[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    """Warp the quadrilateral given as CCPD corners (br, bl, tl, tr) onto an upright width x height plate."""
    br, bl, tl, tr = corners
    width, height = size
    source = np.array([tl, tr, br, bl], dtype=np.float32)
    target = np.array([(0, 0), (width, 0), (width, height), (0, height)], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def read_bgr(path: Path) -> np.ndarray | None:
    # np.fromfile + imdecode rather than cv2.imread, which fails on some non-ASCII paths
    return cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)


def export_ccpd_crops(images: Path, out: Path, size: tuple[int, int] = CROP_SIZE, quality: int = 95) -> Path:
    """Rectified plate crops in out/ and out/labels.csv (file,text,region), the layout of plates-ocr.

    Plates holding CCPD's unknown-character mark are left out: their text is not what the crop shows.
    Returns the labels.csv path.
    """
    out.mkdir(parents=True, exist_ok=True)
    skipped: list[Path] = []
    written = 0
    labels = out / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text", "region"])
        for path, label in labelled_images(images, skipped):
            if UNKNOWN in label.plate or (image := read_bgr(path)) is None:
                skipped.append(path)
                continue
            crop = rectify(image, label.corners, size)
            ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                skipped.append(path)
                continue
            (out / path.name).write_bytes(encoded.tobytes())
            writer.writerow([path.name, label.plate, REGION])
            written += 1
    if skipped:
        log.warning("%d image(s) skipped (malformed names, unknown characters or unreadable), %d crops written",
                    len(skipped), written)
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.ccpd", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    yolo = sub.add_parser("yolo", help="YOLO detection folder (images/{train,val}, labels/{train,val})")
    crops = sub.add_parser("crops", help="rectified plate crops + labels.csv (file,text,region)")
    for p in (yolo, crops):
        p.add_argument("images", type=Path, help="folder searched for CCPD *.jpg files (recursively)")
        p.add_argument("out", type=Path, help="output folder")
    yolo.add_argument("--val-fraction", type=float, default=0.1)
    yolo.add_argument("--copy", action="store_true", help="copy the images instead of linking them")
    crops.add_argument("--width", type=int, default=CROP_SIZE[0])
    crops.add_argument("--height", type=int, default=CROP_SIZE[1])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if args.command == "yolo":
            if not 0.0 <= args.val_fraction <= 1.0:
                parser.error("--val-fraction must be between 0 and 1")
            counts = export_ccpd_to_yolo(args.images, args.out, args.val_fraction, link=not args.copy)
            print(f"{args.out}: {counts['train']} train, {counts['val']} val, {counts['skipped']} skipped")
        else:
            if args.width < 8 or args.height < 8:
                parser.error("--width and --height must be at least 8")
            labels = export_ccpd_crops(args.images, args.out, (args.width, args.height))
            rows = sum(1 for _ in labels.open(encoding="utf-8")) - 1
            print(f"{labels}: {rows} crops")
    except (DatasetError, OSError) as exc:
        print(f"ccpd: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
