"""Test-time views: the same plate crop as a few slightly different images.

The recognizer misreads a character when the crop happens to sit badly for it (a cut edge, a stroke merged by
the resize, low contrast). Reading several variants and scoring every candidate by its CTC likelihood summed over
them (`pipeline.ctc`) lets the variants outvote one bad look. Each view here is a pure function of the crop;
`turn` (pipeline.turn) also needs the first view's read, to know where the characters are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import cv2
import numpy as np

ViewName = Literal["plain", "wide", "trim", "pad", "contrast", "turn"]
VIEW_NAMES: tuple[str, ...] = get_args(ViewName)
EDGE_SHARE = 0.03  # of the crop width, cut or added on each side by `trim` / `pad`
DEFAULT_VIEWS: tuple[ViewName, ...] = ("plain", "wide")
DEFAULT_VIEWS_UP_TO = 98.0  # confidence of the first read at or under which the other views are read too
WIDE_STRETCH = 1.2  # `wide` stretches the crop horizontally: narrow fonts spread over more CTC frames


def plain(crop: np.ndarray) -> np.ndarray:
    return crop


def wide(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape[:2]
    return cv2.resize(crop, (max(1, round(w * WIDE_STRETCH)), h), interpolation=cv2.INTER_CUBIC)


def edge(crop: np.ndarray) -> int:
    return max(1, round(crop.shape[1] * EDGE_SHARE))


def trim(crop: np.ndarray) -> np.ndarray:
    """A detector box that takes in a bolt or a frame edge next to the first or last character."""
    d = edge(crop)
    return crop[:, d:-d] if crop.shape[1] > 4 * d else crop


def pad(crop: np.ndarray) -> np.ndarray:
    """A detector box that cuts into the first or last character: repeat the edge columns."""
    d = edge(crop)
    return cv2.copyMakeBorder(crop, 0, 0, d, d, cv2.BORDER_REPLICATE)


def contrast(crop: np.ndarray) -> np.ndarray:
    """Local contrast (CLAHE) for plates in shade, glare or at night. The recognizer reads gray anyway."""
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(gray)


VIEWS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "plain": plain, "wide": wide, "trim": trim, "pad": pad, "contrast": contrast,
}
TURN = "turn"  # read by pipeline.recognize from the first view's read; never the first view itself
assert (*VIEWS, TURN) == VIEW_NAMES
