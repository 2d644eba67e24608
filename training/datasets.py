"""Dataset readers: end-to-end frames (box + text), OCR crop sets (text + region), YOLO labels, splits."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.records import Box
from training.errors import DatasetError


def normalize_plate(text: str) -> str:
    """The scoring rule: a plate is its characters A-Z0-9, upper case, nothing else."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def split_of(key: str, val_fraction: float = 0.15, test_fraction: float = 0.0) -> str:
    """Deterministic split by hash: the same file lands in the same split on every machine and run."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    if bucket < test_fraction:
        return "test"
    return "val" if bucket < test_fraction + val_fraction else "train"


@dataclass(frozen=True, slots=True)
class EndToEndSample:
    path: Path
    box: Box
    plate: str


@dataclass(frozen=True, slots=True)
class OcrSample:
    path: Path
    text: str
    region: str


def read_csv(path: Path, required: set[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"{path} not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return list(reader)


def read_endtoend(folder: Path, labels: Path | None = None) -> list[EndToEndSample]:
    """`labels.csv` with `file,x,y,w,h,plate` (pixels, top-left corner), as in endtoend-us. `labels` names another
    file in that format, whose `file` paths are relative to `folder` (labels kept apart from the photos)."""
    labels = labels or folder / "labels.csv"
    samples = []
    for line, row in enumerate(read_csv(labels, {"file", "x", "y", "w", "h", "plate"}), start=2):
        try:
            x, y, w, h = (float(row[k]) for k in ("x", "y", "w", "h"))
        except ValueError as exc:
            raise DatasetError(f"{labels} line {line}: bad box ({exc})") from exc
        samples.append(EndToEndSample(folder / row["file"], Box(x, y, x + w, y + h), normalize_plate(row["plate"])))
    return samples


def read_ocr_set(folder: Path) -> list[OcrSample]:
    """`labels.csv` with `file,text,region` (region may be empty), as in plates-ocr."""
    rows = read_csv(folder / "labels.csv", {"file", "text"})
    return [OcrSample(folder / r["file"], r["text"], r.get("region") or "") for r in rows]


def read_corrections(path: Path) -> dict[tuple[str, str], str]:
    """A label-corrections file, `file,label,text[,note]`: (file as labels.csv names it, label as given) -> the
    text the image shows, checked by eye. Public plate sets carry label errors (plates-ocr's Brazilian crops label
    some `I..` plates `D..`); a correction names the wrong label too, so it stops applying if the data set changes."""
    return {(r["file"], r["label"]): r["text"] for r in read_csv(path, {"file", "label", "text"})}


def _as_listed(folder: Path, path: Path) -> str:
    """A crop's file as labels.csv names it: relative to its folder, unless it was listed as an absolute path."""
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else path.as_posix()


def apply_corrections(
    folder: Path, samples: list[OcrSample], corrections: dict[tuple[str, str], str]
) -> list[OcrSample]:
    """The samples of the crop set in `folder`, with the corrections that name their file and label applied."""
    fixed = [corrections.get((_as_listed(folder, s.path), s.text)) for s in samples]
    return [OcrSample(s.path, text, s.region) if text else s for s, text in zip(samples, fixed, strict=True)]


def apply_endtoend_corrections(
    folder: Path, samples: list[EndToEndSample], corrections: dict[tuple[str, str], str]
) -> list[EndToEndSample]:
    """The photos of the end-to-end set in `folder`, with the corrections that name their file and plate applied."""
    fixed = [corrections.get((_as_listed(folder, s.path), s.plate)) for s in samples]
    return [EndToEndSample(s.path, s.box, normalize_plate(text)) if text else s
            for s, text in zip(samples, fixed, strict=True)]


def yolo_boxes(label: Path, width: int, height: int) -> list[Box]:
    """A YOLO label file (`class cx cy w h` per line, normalised) as pixel boxes; no file means no plate."""
    if not label.is_file():
        return []
    boxes = []
    for line_no, line in enumerate(label.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cx, cy, w, h = (float(v) for v in line.split()[1:5])
        except ValueError as exc:
            raise DatasetError(f"{label} line {line_no}: expected `class cx cy w h` ({exc})") from exc
        boxes.append(Box((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height))
    return boxes
