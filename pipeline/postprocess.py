"""Post-process stage: raw recognizer output -> ranked plate candidates under a region's format rules."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from pipeline.formats import Region
from pipeline.records import PlateCandidate, RawText


@dataclass(frozen=True, slots=True)
class PostprocessConfig:
    top_n: int = 10
    beam: int = 40  # partial strings kept while expanding per-character alternatives


def expand_alternatives(raw: RawText, beam: int) -> list[tuple[str, float]]:
    """All strings from the per-character options, best first, as (text, sum of log-probabilities)."""
    paths: list[tuple[float, str]] = [(0.0, "")]
    for guess in raw.chars:
        grown = [(score + math.log(max(p, 1e-9)), text + c) for score, text in paths for c, p in guess.options]
        paths = heapq.nlargest(beam, grown)
    return [(text, score) for score, text in paths if text]


def confidence(log_prob_sum: float, length: int) -> float:
    """Geometric mean of the character probabilities, 0..100."""
    return 100.0 * math.exp(log_prob_sum / max(length, 1))


def candidates_for(raw: RawText, region: Region, config: PostprocessConfig) -> list[PlateCandidate]:
    """Ranked, de-duplicated candidates: those fitting a template first, then by confidence."""
    best: dict[str, PlateCandidate] = {}
    for text, score in expand_alternatives(raw, config.beam):
        corrected, fits = region.best_fit(text)
        if not region.length_ok(corrected):
            continue
        candidate = PlateCandidate(corrected, round(confidence(score, len(text)), 2), fits)
        known = best.get(corrected)
        if known is None or candidate.confidence > known.confidence:
            best[corrected] = candidate
    ranked = sorted(best.values(), key=lambda c: (not (c.matches_template and region.templates), -c.confidence))
    return ranked[: config.top_n]
