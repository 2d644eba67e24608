"""Tracking plates per camera and voting one text per track, on constructed reads (no engines, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from pipeline.formats import load_regions
from pipeline.records import Box
from pipeline.track import PlateTracker, TrackerConfig, TrackRead
from pipeline.vote import reference_length, vote

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GENERIC = load_regions()["generic"]
_ids = count(1)


def read(plate: str, confidence: float = 90.0, t: float = 0.0, x: float = 100.0, y: float = 300.0,
         frame: str | None = None) -> TrackRead:
    return TrackRead(read_id=next(_ids), plate=plate, confidence=confidence, box=Box(x, y, x + 80, y + 25),
                     captured_at=T0 + timedelta(seconds=t), frame_id=frame or f"frame-{t}",
                     candidates=((plate, confidence),))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- tracking -------------------------------------------------------------------------------------------------


def test_overlapping_boxes_form_one_track_that_closes_after_quiet_time() -> None:
    tracker = PlateTracker(TrackerConfig(quiet_seconds=2.0))
    tracker.add([read("ABC1234", t=0.0, x=100), read("ABC1284", t=0.3, x=110), read("ABC1234", t=0.6, x=120)])
    assert len(tracker.open) == 1
    assert tracker.close_idle(at(2.0)) == []  # quiet for 1.4 s only
    [track] = tracker.close_idle(at(2.6))
    assert len(track.reads) == 3 and (track.first_seen, track.last_seen) == (at(0.0), at(0.6))
    assert tracker.open == []


def test_a_fast_plate_is_followed_by_its_text_or_by_a_short_jump() -> None:
    tracker = PlateTracker()
    # 400 px between frames: no overlap, 5 box widths away, but the same text (one misread char).
    tracker.add([read("ABC1234", t=0.0, x=100), read("ABC1Z34", t=0.4, x=500)])
    # 2 box widths away, no overlap, text too garbled for the text rule but compatible: still the same plate.
    tracker.add([read("A8C1Z3", t=0.8, x=660)])
    assert len(tracker.open) == 1 and len(tracker.open[0].reads) == 3


def test_a_different_plate_on_the_same_spot_is_a_new_track() -> None:
    tracker = PlateTracker()
    tracker.add([read("ABC1234", t=0.0), read("XYZ9876", t=0.4)])  # next car stops where the last one stood
    assert len(tracker.open) == 2


def test_two_plates_in_one_frame_never_share_a_track() -> None:
    tracker = PlateTracker()
    tracker.add([read("ABC1234", t=0.0, x=100), read("KLM5678", t=0.0, x=700)])
    tracker.add([read("ABC1234", t=0.3, x=110, frame="f2"), read("KLM5678", t=0.3, x=710, frame="f2")])
    assert sorted([r.plate for r in t.reads] for t in tracker.open) == [["ABC1234"] * 2, ["KLM5678"] * 2]


def test_a_gap_longer_than_quiet_time_starts_a_new_pass() -> None:
    tracker = PlateTracker(TrackerConfig(quiet_seconds=1.0))
    tracker.add([read("ABC1234", t=0.0)])
    tracker.add([read("ABC1234", t=5.0)])  # close_idle has not run: the stale track must still not take it
    assert [len(t.reads) for t in tracker.close_all()] == [1, 1]


def test_tracks_end_at_max_age_and_close_all_empties_the_tracker() -> None:
    tracker = PlateTracker(TrackerConfig(max_age_seconds=3.0))
    tracker.add([read("ABC1234", t=i * 0.5) for i in range(8)])
    assert len(tracker.close_idle(at(3.6))) == 1  # lasted 3.5 s, though not quiet
    tracker.add([read("ABC1234", t=4.0)])
    assert len(tracker.close_all()) == 1 and tracker.open == []


def test_iou_threshold_is_configurable() -> None:
    strict = PlateTracker(TrackerConfig(iou=0.9, max_jump=0.0))
    strict.add([read("ABC1234", t=0.0, x=100), read("ABD1299", t=0.3, x=130)])  # IoU ~0.45, 2 chars differ
    loose = PlateTracker(TrackerConfig(iou=0.2, max_jump=0.0))
    loose.add([read("ABC1234", t=0.0, x=100), read("ABD1299", t=0.3, x=130)])
    assert (len(strict.open), len(loose.open)) == (2, 1)


# --- voting ---------------------------------------------------------------------------------------------------


def test_majority_wins_over_one_misread() -> None:
    result = vote([read("ABC1234"), read("ABC1234"), read("A8C1234"), read("ABC1234")], GENERIC)
    assert result.plate == "ABC1234" and result.frames_used == 4
    assert [c.plate for c in result.candidates[:2]] == ["ABC1234", "A8C1234"]
    assert 60 < result.confidence < 90  # 90 scaled by 3/4 agreement at one position of seven


def test_confidence_weighting_lets_a_sure_read_beat_two_unsure_ones() -> None:
    result = vote([read("ABC1234", 30), read("ABC1234", 30), read("ABC1284", 95)], GENERIC)
    assert result.plate == "ABC1284"


def test_most_frames_right_beats_the_single_most_confident_wrong_read() -> None:
    reads = [read("ABC1234", 80), read("ABC1284", 99), read("ABC1234", 75), read("ABC1234", 82)]
    result = vote(reads, GENERIC)
    assert result.plate == "ABC1234"
    assert reads[result.best_index].plate == "ABC1234" and reads[result.best_index].confidence == 82


def test_reads_of_other_lengths_are_aligned_and_the_common_length_wins() -> None:
    reads = [read("ABC1234", 70), read("ABC123", 95), read("ABC1234", 70), read("XABC1Z34", 60)]
    assert reference_length(reads) == 7  # 140 behind 7 characters vs 95 behind 6
    result = vote(reads, GENERIC)
    assert result.plate == "ABC1234" and result.frames_used == 4


def test_garbage_of_another_length_is_skipped() -> None:
    result = vote([read("ABC1234"), read("ABC1234"), read("Q9")], GENERIC)
    assert result.plate == "ABC1234" and result.frames_used == 2


def test_template_prior_picks_a_fitting_text_at_comparable_score() -> None:
    gb = load_regions()["gb"]  # LLNNLLL
    close = [read("AB12CD4", 90), read("AB12CD4", 90), read("AB12CDE", 80), read("AB12CDE", 80)]
    assert vote(close, GENERIC).plate == "AB12CD4"
    fitted = vote(close, gb)
    assert fitted.plate == "AB12CDE" and fitted.matches_template and fitted.candidates[0].matches_template
    # A clear majority is not overruled by the prior.
    clear = [read("AB12CD4", 90)] * 4 + [read("AB12CDE", 50)]
    assert vote(clear, gb).plate == "AB12CD4"


def test_template_correction_applies_to_the_voted_text() -> None:
    br = load_regions()["br"]  # LLLNNNN, LLLNLNN
    result = vote([read("ABCI234"), read("ABCI234")], br)
    assert result.plate == "ABC1234" and result.matches_template and result.confidence == pytest.approx(90)


def test_vote_needs_reads() -> None:
    with pytest.raises(ValueError, match="at least one"):
        vote([], GENERIC)
