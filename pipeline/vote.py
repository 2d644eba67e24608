"""One answer per track: a confidence-weighted vote per character over the track's reads (pure).

Each read votes with its top-1 text (the stored reads keep whole-text candidates, not per-character options).

1. Reference length: the length of the top-1 texts with the most confidence behind it (sum of confidences).
2. Reads of that length vote per position with their confidence as weight.
3. Reads of other lengths are aligned onto the provisional winner of step 2 with Levenshtein opcodes: their
   characters in `equal` blocks and in same-size `replace` blocks vote at the aligned positions, with half
   weight (a length error already shows the read is damaged); inserted/deleted characters do not vote. Reads
   more than half the reference length away from it are skipped as garbage.
4. Alternatives are expanded from the per-position tables (beam search on the product of vote shares) and
   corrected to the region's templates (`Region.best_fit`). The template prior: if the best alternative fits
   no template, the best one that fits wins when its probability is at least `TEMPLATE_PRIOR_RATIO` of the
   best's (a fitting text is taken to be that much likelier a priori).

Reported confidence (0..100) of a text: the mean over positions of (weight voting for its character / number
of votes there), i.e. the reads' mean confidence scaled by how much they agree.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from pipeline.formats import Region
from pipeline.records import PlateCandidate
from pipeline.track import TrackRead

ALIGNED_WEIGHT = 0.5  # vote weight of a read aligned from another length
TEMPLATE_PRIOR_RATIO = 0.5
BEAM = 40
MIN_WEIGHT = 1e-3  # a 0-confidence read still counts as a (tiny) vote, so lengths and shares are defined


@dataclass(frozen=True, slots=True)
class VoteResult:
    plate: str
    confidence: float  # 0..100
    candidates: list[PlateCandidate]  # best first, the winner included
    frames_used: int  # reads that voted
    best_index: int  # the read that best shows the winner: its most confident read with that text, if any
    matches_template: bool = False


@dataclass(slots=True)
class Tally:
    """Per position: weight per character, and how many (weighted) reads voted there."""

    weights: list[dict[str, float]]
    votes: list[float]

    def add(self, position: int, char: str, weight: float, factor: float) -> None:
        self.weights[position][char] += weight * factor
        self.votes[position] += factor

    def winner(self) -> str:
        return "".join(max(w, key=lambda c: w[c]) for w in self.weights)

    def confidence(self, text: str) -> float:
        shares = [w.get(c, 0.0) / max(n, 1e-9) for c, w, n in zip(text, self.weights, self.votes, strict=True)]
        return min(100.0, sum(shares) / max(len(shares), 1))


def reference_length(reads: Sequence[TrackRead]) -> int:
    by_length: dict[int, float] = defaultdict(float)
    for read in reads:
        by_length[len(read.plate)] += max(read.confidence, MIN_WEIGHT)
    return max(by_length, key=lambda n: (by_length[n], n))


def tally(reads: Sequence[TrackRead], length: int) -> tuple[Tally, int]:
    """Per-position votes of all reads, and how many reads voted."""
    table = Tally([defaultdict(float) for _ in range(length)], [0.0] * length)
    used = 0
    for read in reads:
        if len(read.plate) == length:
            for position, char in enumerate(read.plate):
                table.add(position, char, max(read.confidence, MIN_WEIGHT), 1.0)
            used += 1
    reference = table.winner()
    for read in reads:
        if len(read.plate) == length or Levenshtein.distance(read.plate, reference) > length // 2:
            continue
        for op in Levenshtein.opcodes(read.plate, reference):
            if op.tag in ("equal", "replace") and op.src_end - op.src_start == op.dest_end - op.dest_start:
                for offset in range(op.src_end - op.src_start):
                    char = read.plate[op.src_start + offset]
                    table.add(op.dest_start + offset, char, max(read.confidence, MIN_WEIGHT), ALIGNED_WEIGHT)
        used += 1
    return table, used


def alternatives(table: Tally, beam: int = BEAM) -> list[tuple[str, float]]:
    """Texts from the per-position options, best first, as (text, log of the product of vote shares)."""
    paths: list[tuple[float, str]] = [(0.0, "")]
    for weights in table.weights:
        total = sum(weights.values()) or 1.0
        grown = [(score + math.log(max(w / total, 1e-9)), text + c) for score, text in paths
                 for c, w in weights.items()]
        paths = heapq.nlargest(beam, grown)
    return [(text, score) for score, text in paths]


def vote(reads: Sequence[TrackRead], region: Region, top_n: int = 10) -> VoteResult:
    if not reads:
        raise ValueError("a vote needs at least one read")
    table, used = tally(reads, reference_length(reads))
    # corrected text -> (best log share, fits a template, the voted text it was corrected from)
    ranked: dict[str, tuple[float, bool, str]] = {}
    for text, score in alternatives(table):
        corrected, fits = region.best_fit(text)
        if corrected not in ranked or score > ranked[corrected][0]:
            ranked[corrected] = (score, fits, text)
    order = sorted(ranked, key=lambda t: -ranked[t][0])
    best = order[0]
    if not ranked[best][1]:
        fitting = [t for t in order if ranked[t][1]]
        if fitting and ranked[fitting[0]][0] >= ranked[best][0] + math.log(TEMPLATE_PRIOR_RATIO):
            order.remove(fitting[0])
            order.insert(0, fitting[0])
    candidates = [PlateCandidate(t, round(table.confidence(ranked[t][2]), 2), ranked[t][1]) for t in order[:top_n]]
    winner = candidates[0]
    return VoteResult(winner.plate, winner.confidence, candidates, used, best_read(reads, winner.plate),
                      winner.matches_template)


def best_read(reads: Sequence[TrackRead], plate: str) -> int:
    """Index of the most confident read of `plate`, else of the most confident read (its crop shows the pass)."""
    same = [i for i, r in enumerate(reads) if r.plate == plate]
    return max(same or range(len(reads)), key=lambda i: reads[i].confidence)
