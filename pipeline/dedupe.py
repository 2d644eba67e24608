"""One read per plate: a box around another box that reads (nearly) the same text is that plate again.

The detector's passes (pipeline.detect) merge boxes that overlap by IoU, but a pass at a small input size sometimes
boxes a plate together with the bumper around it: a box 1.3-2.7x the plate's width that holds the main pass's box
whole, and reads the same plate, sometimes with a character of the surroundings added (endtoend-us: 23 of 222
frames). Geometry alone cannot tell it apart from a close-up, where the main pass boxes a word on the plate
(`LAMBORGHINI`) and only the small pass boxes the whole plate; the two reads can: the same plate reads alike.
"""

from __future__ import annotations

from rapidfuzz.distance import Indel

from pipeline.records import PlateRead

CONTAINED = 0.8  # of the inner box's area inside the outer one
ALIKE = 0.6  # of the two plates' characters, the share in their longest common subsequence


def same_plate(inner: PlateRead, outer: PlateRead) -> bool:
    """`outer` boxes `inner` and reads (nearly) what it reads."""
    return (outer.box.covers(inner.box) >= CONTAINED
            and Indel.normalized_similarity(inner.plate, outer.plate) >= ALIKE)


def drop_duplicates(reads: list[PlateRead]) -> list[PlateRead]:
    """The reads of one frame, less each one whose box holds another read of the same plate: the inner box is
    the plate's own, so its read is kept. Of two boxes that hold each other (as large), the first is kept. Order
    is kept."""
    rank = [(r.box.width * r.box.height, i) for i, r in enumerate(reads)]  # smaller first; as large: earlier
    return [outer for o, outer in enumerate(reads)
            if not any(rank[i] < rank[o] and same_plate(inner, outer) for i, inner in enumerate(reads))]
