"""Recognizer evaluation on labelled plate crops (`platestream eval-ocr`), reported per region."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from pydantic import BaseModel
from rapidfuzz.distance import Levenshtein

from pipeline.crop import whole_image_crop
from pipeline.decode import decode_image
from pipeline.formats import Region
from pipeline.postprocess import PostprocessConfig, candidates_for
from pipeline.recognize import Recognizer
from training.datasets import OcrSample, normalize_plate


class RegionScore(BaseModel):
    crops: int
    exact: float
    char_accuracy: float


class CropOutcome(BaseModel):
    file: str  # the crop's file name
    label: str
    predicted: str
    region: str
    exact: bool


class OcrReport(BaseModel):
    crops: int
    exact: float
    char_accuracy: float
    ms_per_crop: float
    regions: dict[str, RegionScore]


def region_group(region: str) -> str:
    """`us-ca` -> `us`: scores are reported per country."""
    return region.split("-")[0] or "unknown"


def score(pairs: list[tuple[str, str]]) -> RegionScore:
    chars = sum(len(label) for _, label in pairs)
    errors = sum(Levenshtein.distance(p, label) for p, label in pairs)
    return RegionScore(
        crops=len(pairs),
        exact=round(sum(p == label for p, label in pairs) / len(pairs), 4),
        char_accuracy=round(max(0.0, 1 - errors / max(chars, 1)), 4),
    )


def evaluate_crops(
    recognizer: Recognizer, samples: Iterable[OcrSample], region: Region, batch: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[OcrReport, list[CropOutcome]]:
    """Top-1 text after format rules vs. the label, both kept to A-Z0-9 (the province character of Chinese
    plates is outside the plate alphabet, so it is left out on both sides)."""
    samples = list(samples)
    predicted: list[str] = []
    seconds = 0.0
    for start in range(0, len(samples), batch):
        chunk = samples[start : start + batch]
        crops = [whole_image_crop(decode_image(s.path.read_bytes(), s.path.name).image) for s in chunk]
        t0 = time.perf_counter()
        for raw in recognizer.read(crops):
            found = candidates_for(raw, region, PostprocessConfig(top_n=1))
            predicted.append(found[0].plate if found else "")
        seconds += time.perf_counter() - t0
        if on_batch:
            on_batch(len(chunk))
    outcomes = [CropOutcome(file=s.path.name, label=normalize_plate(s.text), predicted=text, region=s.region,
                            exact=text == normalize_plate(s.text)) for s, text in zip(samples, predicted, strict=True)]
    pairs_by_region: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for o in outcomes:
        pairs_by_region[region_group(o.region)].append((o.predicted, o.label))
    overall = score([(o.predicted, o.label) for o in outcomes])
    report = OcrReport(
        crops=overall.crops, exact=overall.exact, char_accuracy=overall.char_accuracy,
        ms_per_crop=round(seconds * 1000 / len(samples), 3),
        regions={name: score(pairs) for name, pairs in sorted(pairs_by_region.items())},
    )
    return report, outcomes
