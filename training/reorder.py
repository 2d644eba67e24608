"""Reorder augmentation: move a plate's leading characters behind its last one.

Two thirds of the real crops are Brazilian (`LLL NNNN`), so the recognizer's BiLSTM learned that the first three
characters are letters: on endtoend-us it misread 8.7% of the digits in the first three places (`4` read `A` or
`L`, `6` read `G`, `5` read `B`) but 0.6% of those after them. Rotating the characters of a real crop
(`ABC1234` -> `1234ABC`) keeps every glyph, its lighting and its font, and shows the network digits where it
learned to expect letters, so it has to read each character by its shape.

Where the characters lie comes from the recognizer itself: its greedy CTC decoding emits each character at a few
frames near the character's centre, and a crop whose reading equals its label gives one centre per character.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import torch

from engines.networks import RecognizerNet
from pipeline.recognize import content_width, input_width, to_recognizer_input


@dataclass(frozen=True)
class CharacterSpans:
    """Character positions in a crop's pixel columns: `cuts[k - 1]` is the boundary between characters k - 1 and k;
    `left` and `right` are the outer edges of the first and last characters."""

    left: int
    cuts: tuple[int, ...]
    right: int


def emission_centres(logits: np.ndarray) -> tuple[list[int], list[float]]:
    """Greedy CTC decoding of one T x C row of scores: (classes emitted, the mean frame of each emission)."""
    classes, centres = [], []
    best = logits.argmax(axis=1)
    start, prev = 0, 0
    for frame, cls in enumerate([*best.tolist(), 0]):
        if cls != prev:
            if prev != 0:
                classes.append(prev)
                centres.append((start + frame - 1) / 2)
            start = frame
        prev = cls
    return classes, centres


def spans_from_centres(centres: list[float], frames: int, crop_width: int, content: int, width: int) -> CharacterSpans:
    """Frame centres -> pixel columns of the crop, which filled `content` of the `width` input columns."""
    scale = (width / frames) * (crop_width / content)  # crop pixels per frame
    xs = [(c + 0.5) * scale for c in centres]
    pitch = float(np.median(np.diff(xs)))
    cuts = tuple(round((a + b) / 2) for a, b in pairwise(xs))
    left = max(0, round(xs[0] - pitch / 2))
    right = min(crop_width, round(xs[-1] + pitch / 2))
    return CharacterSpans(left, cuts, right)


def locate_characters(net: RecognizerNet, image: np.ndarray, text: str, charset: str, height: int,
                      max_width: int) -> CharacterSpans | None:
    """The spans of `text` in `image`, or None when the recognizer does not read exactly `text` there, or the
    crop is too narrow for one line of characters."""
    h, w = image.shape[:2]
    if len(text) < 2 or w < 1.5 * h:
        return None
    width = input_width(image, height, max_width)
    tensor = torch.from_numpy(to_recognizer_input(image, height, width))[None]
    with torch.inference_mode():
        logits = net(tensor)[0].float().numpy()
    classes, centres = emission_centres(logits)
    if "".join(charset[c - 1] for c in classes) != text:
        return None
    spans = spans_from_centres(centres, logits.shape[0], w, content_width(image, height, max_width), width)
    bounds = [spans.left, *spans.cuts, spans.right]
    return spans if all(a < b for a, b in pairwise(bounds)) else None


def rotate_characters(image: np.ndarray, spans: CharacterSpans, text: str, k: int) -> tuple[np.ndarray, str]:
    """Move the first k characters behind the last: the plate's margins stay where they were."""
    cut = spans.cuts[k - 1]
    parts = [image[:, : spans.left], image[:, cut : spans.right], image[:, spans.left : cut], image[:, spans.right :]]
    return np.ascontiguousarray(np.concatenate(parts, axis=1)), text[k:] + text[:k]
