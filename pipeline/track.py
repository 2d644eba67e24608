"""Per-camera plate tracking: group the reads of one vehicle pass into a track (pure, no I/O).

Frames are sampled at a few per second, so a moving plate can jump far between two frames. A read joins an
open track when

* it is near the track's last box: IoU >= `iou`, or centres closer than `max_jump` box widths, and its text is
  compatible with the track's recent texts (at most half the characters differ: a misread, not another
  vehicle; this keeps apart two cars that stop on the same spot one after the other); or
* its text is within `text_distance` edits of a recent text of the track, wherever the box is.

Each track takes at most one read per frame; in a frame, the best-scoring (read, track) pairs are matched
first. A track closes when no read has joined it for `quiet_seconds` (of the caller's clock), or when it
has lasted `max_age_seconds` (a parked car yields an event every few minutes, and memory stays bounded).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz.distance import Levenshtein

from pipeline.records import Box

RECENT_TEXTS = 5  # texts of a track's last reads that a new read's text is compared with


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    iou: float = 0.2
    quiet_seconds: float = 2.0
    max_jump: float = 2.5  # centre distance, in box widths, still taken for the same plate
    text_distance: int = 1  # edits within which texts match wherever the box is
    max_age_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class TrackRead:
    """One stored read as the tracker and the vote see it."""

    read_id: int | None
    plate: str
    confidence: float  # 0..100
    box: Box
    captured_at: datetime
    frame_id: str = ""
    candidates: tuple[tuple[str, float], ...] = ()  # (plate, confidence 0..100), best first
    crop_path: str | None = None


@dataclass(slots=True)
class Track:
    """The reads of one plate pass, in arrival order; first/last seen and the last box kept up to date."""

    track_id: int
    reads: list[TrackRead]
    first_seen: datetime
    last_seen: datetime
    last_box: Box

    @classmethod
    def start(cls, track_id: int, read: TrackRead) -> Track:
        return cls(track_id, [read], read.captured_at, read.captured_at, read.box)

    def append(self, read: TrackRead) -> None:
        self.reads.append(read)
        self.first_seen = min(self.first_seen, read.captured_at)
        if read.captured_at >= self.last_seen:  # a late (out of order) read does not move the box back
            self.last_seen, self.last_box = read.captured_at, read.box

    def recent_texts(self) -> list[str]:
        return [r.plate for r in self.reads[-RECENT_TEXTS:]]


def text_distance(text: str, texts: Iterable[str]) -> int:
    return min((Levenshtein.distance(text, t) for t in texts), default=len(text))


def centre_jump(a: Box, b: Box) -> float:
    """Distance between the boxes' centres, in widths of the wider box."""
    dx = (a.x1 + a.x2 - b.x1 - b.x2) / 2
    dy = (a.y1 + a.y2 - b.y1 - b.y2) / 2
    return math.hypot(dx, dy) / max(a.width, b.width, 1e-6)


class PlateTracker:
    """The open tracks of one camera. Feed reads with `add`, collect finished passes with `close_idle`."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.open: list[Track] = []
        self._next_id = 1

    def add(self, reads: Iterable[TrackRead]) -> None:
        """Assign reads to tracks, frame by frame in capture order (batches may arrive slightly out of order)."""
        frames: dict[str, list[TrackRead]] = {}
        for read in reads:
            frames.setdefault(read.frame_id or f"read-{id(read)}", []).append(read)
        for frame in sorted(frames.values(), key=lambda rs: rs[0].captured_at):
            self._add_frame(frame)

    def close_idle(self, now: datetime) -> list[Track]:
        """Close and return the tracks quiet since `now - quiet_seconds` or older than `max_age_seconds`."""
        quiet = timedelta(seconds=self.config.quiet_seconds)
        max_age = timedelta(seconds=self.config.max_age_seconds)
        done: list[Track] = []
        still: list[Track] = []
        for track in self.open:
            over = track.last_seen + quiet <= now or track.last_seen - track.first_seen >= max_age
            (done if over else still).append(track)
        self.open = still
        return sorted(done, key=lambda t: t.first_seen)

    def close_all(self) -> list[Track]:
        done, self.open = sorted(self.open, key=lambda t: t.first_seen), []
        return done

    def _add_frame(self, reads: list[TrackRead]) -> None:
        pairs = sorted(
            ((score, i, track) for i, read in enumerate(reads) for track in self.open
             if (score := self.match_score(read, track)) is not None),
            key=lambda p: -p[0],
        )
        taken: set[int] = set()
        placed: set[int] = set()
        for _, i, track in pairs:
            if i in placed or track.track_id in taken:
                continue
            track.append(reads[i])
            placed.add(i)
            taken.add(track.track_id)
        for i, read in enumerate(reads):
            if i not in placed:
                self.open.append(Track.start(self._next_id, read))
                self._next_id += 1

    def match_score(self, read: TrackRead, track: Track) -> float | None:
        """How well `read` continues `track` (higher is better), or None if it cannot be the same plate."""
        config = self.config
        if abs((read.captured_at - track.last_seen).total_seconds()) > config.quiet_seconds:
            return None  # the track is over (close_idle has just not run yet)
        texts = track.recent_texts()
        distance = text_distance(read.plate, texts)
        same_text = distance <= config.text_distance
        last = track.last_box
        iou, jump = read.box.iou(last), centre_jump(read.box, last)
        near = iou >= config.iou or jump <= config.max_jump
        # Up to half the characters of the longer text may differ: OCR slips, not a different plate.
        compatible = distance <= max(config.text_distance, max(len(t) for t in [read.plate, *texts]) // 2)
        if not (same_text or (near and compatible)):
            return None
        # Text agreement first (it survives fast motion), then overlap, then closeness.
        return (2.0 if distance == 0 else 1.0 if same_text else 0.0) + iou - min(jump, 10.0) / 100
