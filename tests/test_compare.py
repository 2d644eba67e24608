"""Confidence intervals and paired comparisons of end-to-end runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.compare import compare_to_baseline, mcnemar_p, read_baseline, wilson_interval
from training.evaluate import SampleOutcome


def test_wilson_interval_matches_known_values_and_stays_in_range() -> None:
    low, high = wilson_interval(160, 222)  # shipped engines on endtoend-us: 72.1% exact
    assert (round(low, 3), round(high, 3)) == (0.658, 0.776)
    assert wilson_interval(0, 10)[0] == 0.0 and round(wilson_interval(0, 10)[1], 3) == 0.278
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 0) == (0.0, 1.0)


def test_mcnemar_counts_only_the_images_that_changed() -> None:
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(10, 0) == pytest.approx(2 / 1024)  # ten flips, all one way
    assert mcnemar_p(9, 6) == pytest.approx(0.6072, abs=1e-4)  # +3 images out of 222: chance
    assert mcnemar_p(0, 10) == mcnemar_p(10, 0)


def outcome(file: str, exact: bool) -> SampleOutcome:
    return SampleOutcome(file=file, label="ABC123", predicted="ABC123" if exact else "ABC12", detected=True,
                         exact=exact, top5=exact, distance=0 if exact else 1, false_positives=0, ms=1.0)


def test_comparison_pairs_images_by_file_and_label(tmp_path: Path) -> None:
    baseline = tmp_path / "before.csv"
    baseline.write_text("file,label,exact\na.jpg,ABC123,True\nb.jpg,ABC123,False\nc.jpg,ABC123,False\n"
                        "d.jpg,OTHER,True\n")
    result = compare_to_baseline([outcome("a.jpg", False), outcome("b.jpg", True), outcome("c.jpg", True),
                                  outcome("d.jpg", True), outcome("e.jpg", True)], read_baseline(baseline))
    assert (result.images, result.exact_baseline, result.exact_now) == (3, 1, 2)  # d: other label, e: not there
    assert (result.gained, result.lost) == (2, 1) and result.p_value == 1.0
