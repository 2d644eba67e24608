"""Keep an INT8 file only if its accuracy holds.

Quantization can cost accuracy (the stage-3 recognizer lost a point held-out in static INT8), so `platestream
export --int8` scores the FP32 and the INT8 file on the same held-out data, as the product runs them, and deletes
the INT8 file when it scores more than `tolerance` below FP32. Detectors are scored by mAP50 on a YOLO folder's
val split (`eval-detect`), recognizers by exact reads on the held-out hash split of an OCR crop set (`eval-ocr`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from engines import ModelKind, create_engine
from engines.ort_engine import read_onnx_metadata
from pipeline.decode import DEFAULT_MAX_PIXELS
from pipeline.detect import DetectorConfig
from pipeline.formats import load_regions
from pipeline.reader import merge_regions
from pipeline.recognize import Recognizer, RecognizerConfig
from training.datasets import OcrSample, read_ocr_set, split_of
from training.errors import DatasetError
from training.evaluate_detect import YoloSample, evaluate_detector, read_yolo_split
from training.evaluate_ocr import evaluate_crops

DEFAULT_TOLERANCE = 0.01  # absolute: mAP50 or exact may drop by at most one point
VAL_FRACTION = 0.15  # the held-out share of `train ocr`'s hash split


class Int8Check(BaseModel):
    metric: str  # map50 (detectors) or exact (recognizers)
    samples: int
    fp32: float
    int8: float
    tolerance: float

    @property
    def holds(self) -> bool:
        return self.int8 >= self.fp32 - self.tolerance


def held_out_photos(folder: Path, limit: int | None = None) -> list[YoloSample]:
    return read_yolo_split(folder, "val")[:limit]


def held_out_crops(folder: Path, limit: int | None = None) -> list[OcrSample]:
    return [s for s in read_ocr_set(folder) if split_of(s.path.name, VAL_FRACTION) == "val"][:limit]


def check_data(kind: ModelKind, folder: Path, limit: int | None = None) -> int:
    """How many held-out files the check will score on; DatasetError, before any work, when there are none."""
    count = len(held_out_photos(folder, limit) if kind == ModelKind.DETECTOR else held_out_crops(folder, limit))
    if not count:
        raise DatasetError(f"{folder} has no held-out data to check the INT8 file on")
    return count


def detector_score(onnx_path: Path, folder: Path, limit: int | None) -> tuple[float, int]:
    samples = held_out_photos(folder, limit)
    # the product's default passes (PLATESTREAM_DETECTOR_IMGSZ and _EXTRA_SIZES), as `eval-detect` scores them
    report = evaluate_detector(create_engine(onnx_path), DetectorConfig(), samples, DEFAULT_MAX_PIXELS)
    return report.map50, len(samples)


def recognizer_score(onnx_path: Path, folder: Path, limit: int | None) -> tuple[float, int]:
    samples = held_out_crops(folder, limit)
    recognizer = Recognizer(create_engine(onnx_path), RecognizerConfig())
    report, _ = evaluate_crops(recognizer, samples, merge_regions(("generic",), load_regions()))
    return report.exact, len(samples)


def check_int8(fp32_path: Path, int8_path: Path, folder: Path, tolerance: float = DEFAULT_TOLERANCE,
               limit: int | None = None) -> Int8Check:
    """Score both files; the INT8 file is deleted when it does not hold."""
    kind = read_onnx_metadata(fp32_path).kind
    scorer: Callable[[Path, Path, int | None], tuple[float, int]] = (
        detector_score if kind == ModelKind.DETECTOR else recognizer_score)
    fp32, count = scorer(fp32_path, folder, limit)
    int8, _ = scorer(int8_path, folder, limit)
    check = Int8Check(metric="map50" if kind == ModelKind.DETECTOR else "exact", samples=count, fp32=round(fp32, 4),
                      int8=round(int8, 4), tolerance=tolerance)
    if not check.holds:
        int8_path.unlink()
    return check
