"""Pseudo-labels: plate crops of unlabelled camera photos, read by the shipped engines and kept only where every
crop variant gives the same sure read (`platestream pseudo-label`).

Hand-labelled plate text is scarce (plates-ocr has no European or British plate), while photos with plate boxes, or
plain camera frames, are not. A plate the recognizer reads the same under nine framings at high confidence is
almost always read right, and `train ocr` then teaches it in its degraded camera views (`camera:`), where the
recognizer is unsure: self-training on the regions and cameras the hand-labelled crops lack. The output is an OCR
crop set (`labels.csv`: file,text,region) for `extra_data:`.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from pipeline.crop import CropMargins, crop_plate
from pipeline.decode import decode_image
from pipeline.detect import detect
from pipeline.errors import ImageError
from pipeline.reader import PlateReader
from pipeline.records import Box, Detection, Frame
from training.datasets import yolo_boxes
from training.errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
DEFAULT_MIN_CONFIDENCE = 97.0
DEFAULT_REGION = "pseudo"
# Framings a plate is read under: width as detected or 3% narrower / wider at each side, height trimmed 4-16%
# per side (the product reads at 10%). A read that survives all nine does not hang on where the box edge fell.
DEFAULT_VARIANTS = tuple(CropMargins(x, y) for x, y in itertools.product((-0.03, 0.0, 0.03), (-0.04, -0.1, -0.16)))


@dataclass(frozen=True, slots=True)
class PseudoConfig:
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # every variant's read must be at least this sure (0..100)
    min_length: int = 4  # shorter reads are mostly partial plates
    min_height: int = 12  # plates fewer pixels high than this are not read at all
    # Narrower boxes are mostly two-line plates, which a one-line read gets only half of: no label from them.
    min_aspect: float = 1.7
    variants: tuple[CropMargins, ...] = DEFAULT_VARIANTS
    region: str = DEFAULT_REGION  # the crops' region in labels.csv: `oversample: {pseudo: 2}` then applies


@dataclass(slots=True)
class PseudoReport:
    images: int = 0
    plates: int = 0
    kept: int = 0
    unreadable: list[str] = field(default_factory=list)  # image files that could not be decoded: skipped


def source_images(folder: Path) -> list[Path]:
    """Every image under `folder` (a YOLO folder's `images/` included), in a stable order."""
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise DatasetError(f"no images under {folder}")
    return images


def label_file(image: Path) -> Path | None:
    """The YOLO label of `image` as ultralytics finds it (`.../images/<split>/x.jpg` -> `.../labels/<split>/x.txt`),
    or None where no `labels` folder stands beside `images`."""
    parts = image.parts
    if "images" not in parts:
        return None
    at = len(parts) - 1 - parts[::-1].index("images")
    labels = Path(*parts[:at], "labels")
    return labels.joinpath(*parts[at + 1 :]).with_suffix(".txt") if labels.is_dir() else None


def plate_boxes(reader: PlateReader, image: Path, frame: Frame) -> list[Box]:
    """The labelled boxes where the photo has a YOLO label folder (no label file: no plate), else the detector's."""
    label = label_file(image)
    if label is not None:
        return yolo_boxes(label, frame.width, frame.height)
    return [d.box for d in detect([frame], reader.detector, reader.config.detector)[0]]


def agreed_read(reader: PlateReader, frame: Frame, box: Box, config: PseudoConfig) -> str | None:
    """The plate every variant reads, each at least `min_confidence` sure; None when any disagrees or doubts."""
    reads = reader.read_crops([crop_plate(frame, Detection(box, 1.0), margins) for margins in config.variants])
    if any(read is None or read.confidence < config.min_confidence for read in reads):
        return None
    texts = {read.plate for read in reads if read is not None}
    text = texts.pop() if len(texts) == 1 else None
    return text if text is not None and len(text) >= config.min_length else None


def pseudo_crops(reader: PlateReader, folder: Path, config: PseudoConfig,
                 report: PseudoReport) -> Iterator[tuple[str, Frame, Box, str]]:
    """(crop name, frame, box, text) for every plate kept."""
    for image in source_images(folder):
        try:
            frame = decode_image(image.read_bytes(), image.name)
        except (ImageError, OSError) as exc:  # one bad file in a folder of thousands must not stop the run
            report.unreadable.append(f"{image.name}: {exc}")
            continue
        report.images += 1
        for k, box in enumerate(plate_boxes(reader, image, frame)):
            report.plates += 1
            if box.height < config.min_height or box.width < config.min_aspect * box.height:
                continue
            text = agreed_read(reader, frame, box, config)
            if text is not None:
                report.kept += 1
                # named after the photo's path under `folder`: photos of one name in two subfolders stay apart
                yield "__".join(image.relative_to(folder).with_suffix("").parts) + f"_{k}.png", frame, box, text


def write_pseudo_set(reader: PlateReader, folder: Path, out: Path, config: PseudoConfig) -> PseudoReport:
    """Crops cut as the product reads them (default margins), saved losslessly with their read."""
    out.mkdir(parents=True, exist_ok=True)
    report = PseudoReport()
    with (out / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text", "region"])
        for name, frame, box, text in pseudo_crops(reader, folder, config, report):
            crop = crop_plate(frame, Detection(box, 1.0), reader.config.crop_margins).image
            cv2.imwrite(str(out / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            writer.writerow([name, text, config.region])
    return report
