"""Detector accuracy on a YOLO folder (`platestream eval-detect`): mAP as ultralytics computes it, but from the
engine file the product runs (ONNX, INT8 included) with the product's pre- and post-processing and input size.

Ultralytics' own validation (in `train detector`) scores the training weights at the training size; this scores
what is shipped, the way it is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from engines import Engine
from pipeline.decode import decode_image
from pipeline.detect import DetectorConfig, detect
from pipeline.records import Box
from training.datasets import yolo_boxes
from training.errors import DatasetError

MAP_CONFIDENCE = 0.001  # as ultralytics validates: low-confidence boxes complete the precision-recall curve
MAP_MAX_DETECTIONS = 300
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass(frozen=True, slots=True)
class YoloSample:
    path: Path
    label: Path  # may not exist: an image with no plate


class DetectReport(BaseModel):
    """Exactly the keys `platestream eval-detect --json` writes."""

    images: int
    plates: int
    map50: float
    map50_95: float
    precision: float  # at the configured confidence threshold, IoU >= 0.5
    recall: float
    ms_per_image_p50: float


def read_yolo_split(folder: Path, split: str) -> list[YoloSample]:
    """The images of one split; a folder holding only that split (a test set, say) will do."""
    images = folder / "images" / split
    if not images.is_dir():
        raise DatasetError(f"{folder} is not a YOLO folder: missing {images}")
    paths = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DatasetError(f"no images in {images}")
    return [YoloSample(p, folder / "labels" / split / f"{p.stem}.txt") for p in paths]


def iou_matrix(truth: list[Box], predicted: list[Box]) -> np.ndarray:
    return np.array([[t.iou(p) for p in predicted] for t in truth], dtype=np.float64).reshape(len(truth), -1)


def match(iou: np.ndarray) -> np.ndarray:
    """Ultralytics' greedy matching: predictions (columns, by descending confidence) claim the unclaimed plate
    they overlap most; (predictions x IoU thresholds) True where the claim holds at that threshold."""
    correct = np.zeros((iou.shape[1], len(IOU_THRESHOLDS)), dtype=bool)
    claimed = np.zeros((iou.shape[0], len(IOU_THRESHOLDS)), dtype=bool)
    columns = range(len(IOU_THRESHOLDS))
    for j in np.flatnonzero((iou >= IOU_THRESHOLDS[0]).any(0)):
        available = np.where(claimed, 0.0, iou[:, j, None])
        best = available.argmax(0)
        correct[j] = available[best, columns] >= IOU_THRESHOLDS
        claimed[best, columns] |= correct[j]
    return correct


def evaluate_detector(
    engine: Engine, config: DetectorConfig, samples: list[YoloSample], max_pixels: int,
    on_sample: Callable[[], None] | None = None,
) -> DetectReport:
    from ultralytics.utils.metrics import ap_per_class

    wide = replace(config, confidence=MAP_CONFIDENCE, max_detections=MAP_MAX_DETECTIONS)
    correct: list[np.ndarray] = []
    scores: list[float] = []
    ms: list[float] = []
    plates = 0
    for sample in samples:
        data = sample.path.read_bytes()
        started = time.perf_counter()
        frame = decode_image(data, sample.path.name, max_pixels)
        detections = sorted(detect([frame], engine, wide)[0], key=lambda d: -d.confidence)
        ms.append((time.perf_counter() - started) * 1000)
        truth = yolo_boxes(sample.label, frame.width, frame.height)
        plates += len(truth)
        correct.append(match(iou_matrix(truth, [d.box for d in detections])))
        scores.extend(d.confidence for d in detections)
        if on_sample:
            on_sample()
    tp, conf = np.concatenate(correct), np.array(scores)
    # ap_per_class returns (tp, fp, p, r, f1, ap, ...); ap is (classes x IoU thresholds)
    ap = ap_per_class(tp, conf, np.zeros(len(conf)), np.zeros(plates))[5] if plates else np.zeros((1, 10))
    kept = conf >= config.confidence
    found = int(tp[kept, 0].sum())
    return DetectReport(
        images=len(samples), plates=plates, map50=round(float(ap[:, 0].mean()), 4),
        map50_95=round(float(ap.mean()), 4), precision=round(found / max(int(kept.sum()), 1), 4),
        recall=round(found / max(plates, 1), 4), ms_per_image_p50=round(float(np.median(ms)), 2),
    )
