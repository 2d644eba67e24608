"""Glyph check: every character of an unsure read classified alone, by its shape, with no idea where it stands.

The recognizer's BiLSTM reads a character partly by its place on the plate. Two thirds of its real training crops
are Brazilian (`LLL NNNN`), so it reads an unclear digit among the first three characters as a letter (`4` as
`A`, `6` as `G`) and an unclear letter at the back as a digit (`T` as `7`). A small CNN that sees one character
cut out of the crop (`engines/models/glyphs.onnx`, trained by `platestream train glyphs`) has no such prior. Its
log-probabilities of each candidate's characters, weighted, are added to the candidate's CTC score, so where the
shape is clear it outvotes the recognizer's sense of place, and where it is not (`O` and `0` share one glyph on
many plates) the recognizer's context decides.

Where the characters lie comes from the recognizer's first read (pipeline.turn.locate_read). Only
candidates of that read's length can be compared character by character; the others are given the first read's
glyph term.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from pipeline.turn import CharacterSpans

GLYPH_HEIGHT, GLYPH_WIDTH = 40, 24  # a plate character is about twice as high as wide
WINDOW = 1.15  # a glyph's window: this many character pitches wide, centred on the character
LOOK_ALIKES = ("O0",)  # one glyph on many plates (most US states, Brazil's older plates): context decides
DEFAULT_GLYPH_WEIGHT = 0.5  # of the glyph log-probabilities, added to the mean CTC log-likelihood of the views


@dataclass(frozen=True)
class GlyphEvidence:
    """The glyph check of one read: the string its first view read, and each of its characters' glyph
    log-probabilities (rows of `glyph_log_probs`, columns in `charset`'s order)."""

    first_read: str
    log_probs: np.ndarray
    charset: str

    def disagrees(self) -> bool:
        """Whether the glyph classifier reads one of the first read's characters as another character (`O` and `0`
        share one glyph, and glyph_log_probs gives them one probability, so they never disagree)."""
        if len(self.first_read) != len(self.log_probs):
            return False
        return any(row.max() > row[self.charset.index(c)] + 1e-6
                   for c, row in zip(self.first_read, self.log_probs, strict=True) if c in self.charset)


def character_centres(spans: CharacterSpans) -> tuple[list[float], float]:
    """The centre column of each character, and the median distance between neighbours (the pitch)."""
    bounds = [spans.left, *spans.cuts, spans.right]
    centres = [(a + b) / 2 for a, b in pairwise(bounds)]
    pitch = float(np.median(np.diff(centres))) if len(centres) > 1 else float(bounds[1] - bounds[0])
    return centres, pitch


def cut_glyph(gray: np.ndarray, centre: float, half_width: float, top: int = 0, bottom: int = 0) -> np.ndarray:
    """One character's window, full height less `top` and `bottom` rows, as a GLYPH_HEIGHT x GLYPH_WIDTH image;
    a window running past the crop's edge repeats its edge columns."""
    h, w = gray.shape[:2]
    a, b = round(centre - half_width), round(centre + half_width)
    patch = gray[top : h - bottom, max(0, a) : min(w, max(b, a + 1))]
    if a < 0 or b > w:
        patch = cv2.copyMakeBorder(patch, 0, 0, max(0, -a), max(0, b - w), cv2.BORDER_REPLICATE)
    return cv2.resize(patch, (GLYPH_WIDTH, GLYPH_HEIGHT), interpolation=cv2.INTER_AREA)


def cut_glyphs(gray: np.ndarray, spans: CharacterSpans) -> list[np.ndarray]:
    """Every character of a grayscale crop, as inference cuts them."""
    centres, pitch = character_centres(spans)
    return [cut_glyph(gray, c, pitch * WINDOW / 2) for c in centres]


def to_glyph_input(glyphs: list[np.ndarray]) -> np.ndarray:
    """N x 1 x H x W float32 in [-1, 1], as the recognizer's input is scaled."""
    return ((np.stack(glyphs).astype(np.float32) / 255.0 - 0.5) / 0.5)[:, None]


def glyph_log_probs(logits: np.ndarray, alphabet: str) -> np.ndarray:
    """(N, len(alphabet)) log-probabilities, each group of LOOK_ALIKES given their summed probability."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    for group in LOOK_ALIKES:
        columns = [alphabet.index(c) for c in group if c in alphabet]
        log_probs[:, columns] = np.logaddexp.reduce(log_probs[:, columns], axis=1, keepdims=True)
    return log_probs


def glyph_score(log_probs: np.ndarray, text: str, alphabet: str) -> float | None:
    """Sum of the glyph log-probabilities of `text`'s characters; None when it cannot be compared character by
    character (another length, or a character the glyph classifier does not know)."""
    if len(text) != len(log_probs) or any(c not in alphabet for c in text):
        return None
    return float(sum(log_probs[i, alphabet.index(c)] for i, c in enumerate(text)))


def with_glyphs(scored: tuple[tuple[str, float], ...], log_probs: np.ndarray, first_read: str, alphabet: str,
                weight: float) -> tuple[tuple[str, float], ...]:
    """Candidates (text, CTC score) with the weighted glyph score added, best first. The glyph score is taken
    relative to the best one among the comparable candidates and the first read, so the term is never positive: a
    score stays a log-likelihood, and the confidence made of it stays within 0..100. Candidates that cannot be
    compared are given the first read's term. Unchanged when the first read itself cannot be compared."""
    base = glyph_score(log_probs, first_read, alphabet)
    if base is None:
        return scored
    glyphs = [glyph_score(log_probs, text, alphabet) for text, _ in scored]
    best = max([base, *(g for g in glyphs if g is not None)])
    rescored = [(text, score + weight * ((glyph if glyph is not None else base) - best))
                for (text, score), glyph in zip(scored, glyphs, strict=True)]
    return tuple(sorted(rescored, key=lambda pair: -pair[1]))
