"""Post-process stage: raw recognizer output -> ranked plate candidates under a region's format rules."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Literal, get_args

from pipeline.formats import Region
from pipeline.records import PlateCandidate, RawText

# What happens to a read whose best candidate fits no template of the enabled regions:
# off = nothing (templates only rank and correct), flag = kept and marked, drop = not reported at all.
TemplatePolicy = Literal["off", "flag", "drop"]
TEMPLATE_POLICIES: tuple[str, ...] = get_args(TemplatePolicy)


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


def best_confidence(raw: RawText) -> float:
    """Confidence of the read's best string, as its candidates report it (0..100); 0 for an empty read."""
    best = expand_alternatives(raw, 1)
    return confidence(best[0][1], len(best[0][0])) if best else 0.0


def candidates_for(raw: RawText, region: Region, config: PostprocessConfig) -> list[PlateCandidate]:
    """Ranked, de-duplicated candidates: those fitting a template first, then by confidence."""
    best: dict[str, PlateCandidate] = {}
    for text, score in raw.scored or expand_alternatives(raw, config.beam):
        corrected, fits = region.best_fit(text)
        if not region.length_ok(corrected):
            continue
        candidate = PlateCandidate(corrected, round(confidence(score, len(text)), 2), fits)
        known = best.get(corrected)
        if known is None or candidate.confidence > known.confidence:
            best[corrected] = candidate
    ranked = sorted(best.values(), key=lambda c: (not (c.matches_template and region.templates), -c.confidence))
    return ranked[: config.top_n]


def template_verdict(best: PlateCandidate, region: Region, policy: TemplatePolicy) -> tuple[bool, bool | None]:
    """(report the read?, its template verdict to store). The verdict is None when the policy is off or the
    enabled regions have no template (e.g. `generic`): then nothing was checked, and nothing can be dropped."""
    if policy == "off" or not region.templates:
        return True, None
    return policy == "flag" or best.matches_template, best.matches_template
