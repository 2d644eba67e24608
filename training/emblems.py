"""Emblems drawn between a plate's characters, which the recognizer must read across rather than as characters.

Many US plates split their characters with a state shape, a fruit or a badge (`DG2 ◆ Z6U`), and German plates
carry round registration seals between the district letters and the rest; Missouri-style plates put the
registration sticker, a small upright rectangle, between their two groups. On endtoend-us, 20 of the 59 plates read
wrongly had such an emblem, read as a 7, a dot or a merged character. A template places one with EMBLEM.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw

EMBLEM = "*"  # placeholder in templates and drawn text; never part of a label
EMBLEM_WIDTH = 0.75  # share of the font size an emblem takes in the line, gaps included
# orange (fruit), red, yellow (stickers), green, navy and grey badges; emblems also come in the text colour
# (draw_plate decides)
EMBLEM_COLORS: tuple[tuple[int, int, int], ...] = ((235, 125, 25), (200, 35, 35), (225, 200, 45), (35, 125, 55),
                                                   (25, 45, 140), (110, 110, 110))

Box = tuple[float, float, float, float]


def _star(cx: float, cy: float, r: float, points: int = 5) -> list[tuple[float, float]]:
    angles = np.linspace(-np.pi / 2, 3 * np.pi / 2, 2 * points, endpoint=False)
    radii = np.where(np.arange(2 * points) % 2 == 0, r, r * 0.45)
    return [(cx + q * np.cos(a), cy + q * np.sin(a)) for q, a in zip(radii, angles, strict=True)]


def _blob(cx: float, cy: float, r: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """An irregular outline, like a state's silhouette."""
    n = int(rng.integers(6, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = r * rng.uniform(0.55, 1.0, n)
    return [(cx + q * np.cos(a), cy + q * np.sin(a)) for q, a in zip(radii, angles, strict=True)]


def draw_emblem(draw: ImageDraw.ImageDraw, box: Box, rng: np.random.Generator) -> None:
    """One emblem (white on the mask `draw` paints) centred in box: a registration sticker (the most common), a
    disc, two stacked seals, a star, a silhouette or a small dot."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r = min(x1 - x0, y1 - y0) / 2 * rng.uniform(0.55, 1.0)
    kind = int(rng.integers(7))
    if kind >= 5:  # an upright sticker, narrower than a character, sometimes with a darker band of print
        half_w, half_h = r * rng.uniform(0.3, 0.5), r * rng.uniform(0.7, 1.0)
        draw.rectangle((cx - half_w, cy - half_h, cx + half_w, cy + half_h), fill=255)
        if rng.random() < 0.5:
            band = cy + half_h * rng.uniform(-0.6, 0.4)
            draw.rectangle((cx - half_w, band, cx + half_w, band + half_h * 0.3), fill=int(rng.integers(60, 160)))
    elif kind == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    elif kind == 1:  # German registration seals: two small discs, one above the other
        s = r * 0.45
        for dy in (-r * 0.5, r * 0.5):
            draw.ellipse((cx - s, cy + dy - s, cx + s, cy + dy + s), fill=255)
    elif kind == 2:
        draw.polygon(_star(cx, cy, r), fill=255)
    elif kind == 3:
        draw.polygon(_blob(cx, cy, r, rng), fill=255)
    else:  # a dot or short dash between groups
        s = r * 0.3
        draw.rectangle((cx - s * rng.uniform(1, 2), cy - s, cx + s * rng.uniform(1, 2), cy + s), fill=255)
