"""Turned plates: the characters of a crop rotated, so that its first half is read at the end.

The recognizer's BiLSTM learned where letters and digits stand on the plates it was trained on, two thirds of them
Brazilian (`LLL NNNN`): it reads an unclear digit at the front as a letter (`4` as `A`, `6` as `G`) and an unclear
letter at the back as a digit. On endtoend-us it misread 8.7% of the digits among a plate's first three characters
and 0.6% of those after them. Reading the crop once more with its characters rotated (`ABC1234` -> `1234ABC`) shows
every character in the other half of the plate, and scoring each candidate string on both reads lets the two
priors cancel (the `turn` read view, pipeline.recognize). Training uses the same rotation (training.reorder).

Where the characters lie comes from the recognizer's own greedy CTC decoding: it emits each character at a few
frames near the character's centre, so the cuts fall midway between neighbouring centres.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

MIN_TURN_CHARS = 4  # shorter reads gain little from moving two characters, and locate badly


@dataclass(frozen=True)
class CharacterSpans:
    """Character positions in a crop's pixel columns: `cuts[k - 1]` is the boundary between characters k - 1 and k;
    `left` and `right` are the outer edges of the first and last characters."""

    left: int
    cuts: tuple[int, ...]
    right: int


def emission_centres(scores: np.ndarray) -> tuple[list[int], list[float]]:
    """Greedy CTC decoding of (T, classes) scores, blank at 0: the classes emitted and the mean frame of each."""
    classes, centres = [], []
    start, prev = 0, 0
    for frame, cls in enumerate([*scores.argmax(axis=1).tolist(), 0]):
        if cls != prev:
            if prev != 0:
                classes.append(prev)
                centres.append((start + frame - 1) / 2)
            start = frame
        prev = cls
    return classes, centres


def spans_from_centres(centres: list[float], pixels_per_frame: float, crop_width: int) -> CharacterSpans | None:
    """Frame centres -> pixel columns; None when there are fewer than two characters or the spans overlap."""
    if len(centres) < 2:
        return None
    xs = [(c + 0.5) * pixels_per_frame for c in centres]
    pitch = float(np.median(np.diff(xs)))
    cuts = tuple(round((a + b) / 2) for a, b in pairwise(xs))
    spans = CharacterSpans(max(0, round(xs[0] - pitch / 2)), cuts, min(crop_width, round(xs[-1] + pitch / 2)))
    bounds = [spans.left, *spans.cuts, spans.right]
    return spans if all(a < b for a, b in pairwise(bounds)) else None


def locate_read(scores: np.ndarray, pixels_per_frame: float,
                crop_width: int) -> tuple[list[int], CharacterSpans | None]:
    """The classes a read's greedy CTC decoding emits, and where in the crop they lie (None as spans_from_centres)."""
    classes, centres = emission_centres(scores)
    return classes, spans_from_centres(centres, pixels_per_frame, crop_width)


def rotate_characters(image: np.ndarray, spans: CharacterSpans, k: int) -> np.ndarray:
    """Move the first k characters behind the last; the plate's margins stay where they were."""
    cut = spans.cuts[k - 1]
    parts = [image[:, : spans.left], image[:, cut : spans.right], image[:, spans.left : cut], image[:, spans.right :]]
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def turn_text(text: str, k: int) -> str:
    """The string a crop turned by k shows: `turn_text("ABC1234", 3) == "1234ABC"`."""
    return text[k:] + text[:k]


def turn_crop(image: np.ndarray, probs: np.ndarray, pixels_per_frame: float) -> tuple[np.ndarray, int] | None:
    """The crop with the first half of the characters its read `probs` found moved behind the rest, and how many
    moved; None for reads too short to turn."""
    classes, spans = locate_read(probs, pixels_per_frame, image.shape[1])
    if len(classes) < MIN_TURN_CHARS or spans is None:
        return None
    k = len(classes) // 2
    return rotate_characters(image, spans, k), k
