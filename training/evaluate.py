"""End-to-end evaluation of a PlateReader on labelled frames (`platestream eval`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np
from pydantic import BaseModel
from rapidfuzz.distance import Levenshtein

from pipeline.decode import decode_image
from pipeline.reader import PlateReader
from pipeline.records import FrameResult, PlateRead
from training.datasets import EndToEndSample, normalize_plate

MATCH_IOU = 0.5


class EvalReport(BaseModel):
    """Exactly the keys `platestream eval --json` writes."""

    images: int
    detection_recall: float
    exact: float
    top5: float
    char_accuracy: float
    false_positives_per_image: float
    ms_per_image_p50: float
    ms_per_image_p95: float
    images_per_second: float


class SampleOutcome(BaseModel):
    file: str
    label: str
    predicted: str
    detected: bool
    exact: bool
    top5: bool
    distance: int
    false_positives: int
    ms: float


def read_for_label(result: FrameResult, sample: EndToEndSample) -> PlateRead | None:
    """The read whose box overlaps the labelled plate most; a read elsewhere in the frame does not count."""
    overlapping = [(r.box.iou(sample.box), r) for r in result.reads]
    overlapping = [(iou, r) for iou, r in overlapping if iou > 0]
    return max(overlapping, key=lambda pair: pair[0])[1] if overlapping else None


def score_sample(sample: EndToEndSample, result: FrameResult, ms: float) -> SampleOutcome:
    read = read_for_label(result, sample)
    predicted = normalize_plate(read.plate) if read else ""
    top = [normalize_plate(c.plate) for c in read.candidates[:5]] if read else []
    return SampleOutcome(
        file=sample.path.name,
        label=sample.plate,
        predicted=predicted,
        detected=any(r.box.iou(sample.box) >= MATCH_IOU for r in result.reads),
        exact=predicted == sample.plate,
        top5=sample.plate in top,
        distance=Levenshtein.distance(predicted, sample.plate),
        false_positives=sum(r.box.iou(sample.box) < MATCH_IOU for r in result.reads),
        ms=ms,
    )


def evaluate(
    reader: PlateReader, samples: Iterable[EndToEndSample], max_pixels: int,
    on_sample: Callable[[SampleOutcome], None] | None = None,
) -> tuple[EvalReport, list[SampleOutcome]]:
    """One image at a time, timed from file bytes to reads, as a camera frame would be."""
    outcomes = []
    started = time.perf_counter()
    for sample in samples:
        data = sample.path.read_bytes()
        t0 = time.perf_counter()
        result = reader.read([decode_image(data, sample.path.name, max_pixels)])[0]
        outcome = score_sample(sample, result, (time.perf_counter() - t0) * 1000)
        outcomes.append(outcome)
        if on_sample:
            on_sample(outcome)
    return summarize(outcomes, time.perf_counter() - started), outcomes


def summarize(outcomes: list[SampleOutcome], seconds: float) -> EvalReport:
    n = len(outcomes)
    if n == 0:
        raise ValueError("no samples to evaluate")
    ms = np.array([o.ms for o in outcomes])
    chars = sum(len(o.label) for o in outcomes)
    return EvalReport(
        images=n,
        detection_recall=round(sum(o.detected for o in outcomes) / n, 4),
        exact=round(sum(o.exact for o in outcomes) / n, 4),
        top5=round(sum(o.top5 for o in outcomes) / n, 4),
        char_accuracy=round(max(0.0, 1 - sum(o.distance for o in outcomes) / max(chars, 1)), 4),
        false_positives_per_image=round(sum(o.false_positives for o in outcomes) / n, 4),
        ms_per_image_p50=round(float(np.percentile(ms, 50)), 2),
        ms_per_image_p95=round(float(np.percentile(ms, 95)), 2),
        images_per_second=round(n / seconds, 3),
    )
