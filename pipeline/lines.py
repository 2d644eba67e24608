"""Two-line plates: find the gap between two text lines of a plate crop, so each line is read on its own.

The recognizer reads one line of text. On a square plate (British and Pakistani rear plates, motorcycles, Brazilian
`LLL / NNNN` motorcycle plates) it reads one of the lines, or a mix of both. A crop that is not much wider than it
is tall, with a row of almost no ink in its middle third and text of similar height above and below it, is cut
there; both halves are read, and their reads, top then bottom, replace the one-line read when that was unsure and
both lines are sure.

The lines are looked for in the detector's box at its full height (`PlateCrop.full_height`): the trim that fits the
one-line read of a plate cuts into a two-line plate's top and bottom lines.

Measured with the stage-8 recognizer on the hand-read plates-detect validation plates (`training/labels`): 8 more of
the 21 two-line plates read exactly (178 -> 186 of 274) and no other read got worse. No read changed on endtoend-us
or on the held-out plates-ocr crops, although the gap finder does cut 59 of plates-ocr's 751 US close-ups (a state
name above, a slogan below): their one-line reads are sure.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.postprocess import best_confidence
from pipeline.records import RawText


@dataclass(frozen=True, slots=True)
class TwoLineConfig:
    enabled: bool = True
    max_aspect: float = 3.0  # wider crops (width / height) are one-line plates
    max_gap_ink: float = 0.75  # the gap row's ink, as a share of the busiest row's
    min_line: float = 0.15  # each line's text rows, as a share of the crop height
    max_line_ratio: float = 1.67  # the taller line at most this much taller: not a state name over big characters
    max_one_line_confidence: float = 95.0  # the crop's one-line read at most this sure (0..100)
    min_confidence: float = 75.0  # both lines read at least this sure
    min_chars: int = 2  # characters each line must read


def row_ink(gray: np.ndarray) -> np.ndarray:
    """Per row: mean horizontal gradient, which text strokes make and plain plate background does not."""
    ink = np.abs(np.diff(gray.astype(np.float32), axis=1)).mean(axis=1)
    return np.convolve(ink, np.ones(3, np.float32) / 3, mode="same")


def line_gap(crop: np.ndarray, config: TwoLineConfig) -> int | None:
    """The row between the two lines of a two-line plate, or None when the crop does not look like one."""
    h, w = crop.shape[:2]
    if not config.enabled or h < 14 or w > config.max_aspect * h:
        return None
    ink = row_ink(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop)
    low, high = int(0.3 * h), int(0.7 * h) + 1
    row = low + int(np.argmin(ink[low:high]))
    peak = float(ink.max())
    if peak <= 0 or ink[row] >= config.max_gap_ink * peak:
        return None
    text = ink > 0.5 * peak
    top, bottom = int(text[:row].sum()), int(text[row:].sum())
    if min(top, bottom) < config.min_line * h or max(top, bottom) > config.max_line_ratio * min(top, bottom):
        return None
    return row


def split_lines(crop: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom line, overlapping by a few rows so a descender or a low gap does not cut a character."""
    overlap = max(1, crop.shape[0] // 20)
    return crop[: row + overlap], crop[row - overlap :]


def two_line_read(one_line_confidence: float, top: RawText, bottom: RawText, config: TwoLineConfig) -> bool:
    """Whether the two lines' reads should replace the one-line read: only when that was unsure, and both lines
    read sure. On US close-ups cut under the state name the halves read as sure-looking fragments, but the one-line
    read of those plates is near-certain (96 or more on all 59 plates-ocr US crops that split)."""
    if one_line_confidence > config.max_one_line_confidence:
        return False
    return all(len(line.chars) >= config.min_chars and best_confidence(line) >= config.min_confidence
               for line in (top, bottom))
