"""How sure an end-to-end figure is: Wilson intervals, and paired comparisons of two runs on the same images.

On 222 frames, exact reads of one recognizer recipe moved by up to 6 points between epochs, so a difference of a
few points between two models says little by itself. Both models read the same images, so the images one gets
right and the other wrong decide it (McNemar's exact test); the images both get right or wrong do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from training.datasets import read_csv
from training.errors import DatasetError


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% (z = 1.96) confidence interval of a proportion; unlike p +- z*se it stays within 0..1 near the ends."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_p(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: the chance of a split at least this uneven if both models were as good."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


class Outcome(Protocol):
    """One image's (eval) or crop's (eval-ocr) result, as their --details rows hold it."""

    @property
    def file(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def exact(self) -> bool: ...


class Comparison(BaseModel):
    images: int  # images (or crops) in both runs (same file and label)
    exact_baseline: int
    exact_now: int
    gained: int  # right now, wrong in the baseline
    lost: int  # wrong now, right in the baseline
    p_value: float


@dataclass(frozen=True, slots=True)
class Baseline:
    """An earlier run's `--details` rows: (file, label) -> read exactly then. Read before the run it is compared
    with, so a bad file fails at once and `--details` may overwrite the same file."""

    path: Path
    exact: dict[tuple[str, str], bool]


def read_baseline(baseline_csv: Path) -> Baseline:
    rows = read_csv(baseline_csv, {"file", "label", "exact"})
    return Baseline(baseline_csv, {(r["file"], r["label"]): r["exact"] == "True" for r in rows})


def compare_to_baseline(outcomes: Sequence[Outcome], baseline: Baseline) -> Comparison:
    """Pair this run's images with a baseline's by file and label."""
    before = baseline.exact
    pairs = [(before[(o.file, o.label)], o.exact) for o in outcomes if (o.file, o.label) in before]
    if not pairs:
        raise DatasetError(f"{baseline.path}: no image in common with this evaluation")
    gained = sum(now and not then for then, now in pairs)
    lost = sum(then and not now for then, now in pairs)
    return Comparison(images=len(pairs), exact_baseline=sum(then for then, _ in pairs),
                      exact_now=sum(now for _, now in pairs), gained=gained, lost=lost,
                      p_value=round(mcnemar_p(gained, lost), 4))
