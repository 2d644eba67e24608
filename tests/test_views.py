"""Test-time views and CTC rescoring: the likelihood against brute force, the views' geometry, and reading real
crops through several views."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from engines import Engine
from pipeline.crop import whole_image_crop
from pipeline.ctc import ctc_log_likelihood
from pipeline.errors import ReaderConfigError
from pipeline.formats import load_regions
from pipeline.postprocess import PostprocessConfig, best_confidence, candidates_for
from pipeline.recognize import Recognizer, RecognizerConfig
from pipeline.turn import turn_crop, turn_text
from pipeline.views import VIEWS, contrast, pad, trim, wide
from tests.conftest import load_frame, ocr_rows
from training.datasets import normalize_plate


def collapse(path: tuple[int, ...], alphabet: str) -> str:
    """CTC's rule: merge repeats, then drop blanks (class 0)."""
    merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
    return "".join(alphabet[c - 1] for c in merged if c)


def brute_force(probs: np.ndarray, alphabet: str) -> dict[str, float]:
    """P(text) for every text, by summing every frame-by-frame path."""
    totals: dict[str, float] = {}
    for path in itertools.product(range(probs.shape[1]), repeat=len(probs)):
        text = collapse(path, alphabet)
        totals[text] = totals.get(text, 0.0) + math.prod(probs[t, c] for t, c in enumerate(path))
    return totals


def test_ctc_likelihood_sums_every_alignment() -> None:
    alphabet = "AB"
    probs = np.random.default_rng(3).dirichlet(np.ones(3), size=5)
    exact = brute_force(probs, alphabet)
    texts = sorted(exact)  # "", "A", "AA", "ABA", "BBB"...: every string five frames can spell
    got = np.exp(ctc_log_likelihood(probs, texts, alphabet))
    assert got == pytest.approx([exact[t] for t in texts], rel=1e-9)
    assert got.sum() == pytest.approx(1.0)


def test_a_string_longer_than_the_frames_allow_is_impossible() -> None:
    probs = np.full((3, 3), 1 / 3)
    assert ctc_log_likelihood(probs, ["AA", "ABAB"], "AB")[1] == -np.inf  # A A needs a blank between: 3 frames
    assert np.isfinite(ctc_log_likelihood(probs, ["AA"], "AB")[0])


def test_views_keep_the_height_and_change_the_width_as_named() -> None:
    crop = np.random.default_rng(0).integers(0, 255, (40, 100, 3), dtype=np.uint8)
    assert wide(crop).shape == (40, 120, 3)
    assert trim(crop).shape == (40, 94, 3) and np.array_equal(trim(crop), crop[:, 3:97])
    padded = pad(crop)
    assert padded.shape == (40, 106, 3) and np.array_equal(padded[:, :3], np.repeat(crop[:, :1], 3, axis=1))
    assert contrast(crop).shape == (40, 100)  # gray: the recognizer reads gray anyway
    tiny = np.zeros((1, 1, 3), np.uint8)
    assert all(view(tiny).size > 0 for view in VIEWS.values())


def test_unknown_view_is_refused() -> None:
    with pytest.raises(ReaderConfigError, match=r"unknown view.*sharpen.*known: plain"):
        RecognizerConfig(views=("plain", "sharpen"))
    with pytest.raises(ReaderConfigError):
        RecognizerConfig(views=())


@pytest.mark.parametrize("region", ["br", "us"])
def test_several_views_rescore_every_string_any_view_read(recognizer: Engine, ocr_dir: Path, region: str) -> None:
    crops = [whole_image_crop(load_frame(ocr_dir / r["file"]).image) for r in ocr_rows(region, 8)]
    one = Recognizer(recognizer, RecognizerConfig(views=("plain",)))
    several = Recognizer(recognizer, RecognizerConfig(views=("plain", "wide", "contrast"), views_up_to=100))
    for crop, single, multi in zip(crops, one.read(crops), several.read(crops), strict=True):
        assert single.scored == ()
        texts = [text for text, _ in multi.scored]
        scores = [score for _, score in multi.scored]
        assert single.text in texts and scores == sorted(scores, reverse=True)
        per_view = [several.probabilities([VIEWS[n](crop.image)])[0] for n in ("plain", "wide", "contrast")]
        mean = np.mean([ctc_log_likelihood(p, texts, several.alphabet) for p in per_view], axis=0)
        assert scores == pytest.approx(mean.tolist())
        best = candidates_for(multi, load_regions()["generic"], PostprocessConfig())[0]
        assert best.plate == texts[0] and best.confidence == pytest.approx(100 * math.exp(scores[0] / len(texts[0])),
                                                                           abs=0.01)


def test_only_unsure_reads_get_a_second_look(recognizer: Engine, ocr_dir: Path) -> None:
    crops = [whole_image_crop(load_frame(ocr_dir / r["file"]).image) for r in ocr_rows("us", 12)]
    first = Recognizer(recognizer, RecognizerConfig(views=("plain",))).read(crops)
    confidences = sorted(best_confidence(t) for t in first)
    middle = confidences[len(confidences) // 2]
    assert confidences[0] < middle < confidences[-1]  # real crops: some sure reads, some unsure
    cascade = Recognizer(recognizer, RecognizerConfig(views=("plain", "wide"), views_up_to=middle)).read(crops)
    for plain, read in zip(first, cascade, strict=True):
        assert read.chars == plain.chars  # the first view's decoding is kept either way
        assert bool(read.scored) == (best_confidence(plain) <= middle)


def test_turn_needs_a_first_read_to_turn() -> None:
    with pytest.raises(ReaderConfigError, match="first view"):
        RecognizerConfig(views=("turn", "plain"))
    assert RecognizerConfig(views=("plain", "turn")).views == ("plain", "turn")


def test_turn_moves_the_first_half_of_the_characters_behind_the_rest() -> None:
    assert turn_text("ABC1234", 3) == "1234ABC"
    # five characters 10 frames apart, the first centred on frame 4; 2 pixels per frame
    probs = np.zeros((50, 6))
    probs[:, 0] = 1.0
    for k in range(5):
        probs[4 + 10 * k] = np.eye(6)[k + 1]
    image = np.tile(np.arange(100, dtype=np.uint8), (4, 1))
    turned = turn_crop(image, probs, pixels_per_frame=2.0)
    assert turned is not None
    rotated, moved = turned
    assert moved == 2
    # centres at x = 9, 29, 49, 69, 89: characters span 0-19, 19-39, ... and the cut after the second is at 39
    assert rotated[0].tolist() == [*range(39, 99), *range(0, 39), 99]
    assert turn_crop(image, probs[:30], pixels_per_frame=2.0) is None  # three characters: too short to turn


@pytest.mark.parametrize("region", ["br", "us"])
def test_turned_view_reads_the_plate_and_scores_strings_as_it_shows_them(recognizer: Engine, ocr_dir: Path,
                                                                         region: str) -> None:
    rows = ocr_rows(region, 8)
    crops = [whole_image_crop(load_frame(ocr_dir / r["file"]).image) for r in rows]
    reader = Recognizer(recognizer, RecognizerConfig(views=("plain", "turn"), views_up_to=100))
    probs = reader.probabilities([crop.image for crop in crops])
    views: list[list[tuple[np.ndarray, int]]] = [[(p, 0)] for p in probs]
    reader.read_turned(crops, probs, list(range(len(crops))), views)
    turned_right = 0
    for row, crop_views, read in zip(rows, views, reader.read(crops), strict=True):
        assert len(crop_views) == 2  # plates of 7 characters: all turned
        (plain_probs, _), (turned_probs, moved) = crop_views
        assert moved == len(read.chars) // 2
        turned_right += reader.decode_turned(turned_probs, moved).text == normalize_plate(row["text"])
        texts = [text for text, _ in read.scored]
        mean = np.mean([ctc_log_likelihood(plain_probs, texts, reader.alphabet),
                        ctc_log_likelihood(turned_probs, [turn_text(t, moved) for t in texts], reader.alphabet)],
                       axis=0)
        assert [score for _, score in read.scored] == pytest.approx(mean.tolist())
    assert turned_right >= 5  # read in plate order again, the turned crop gives the plate (a wrong order: none)


def test_a_quick_read_is_the_first_view_alone(recognizer: Engine, ocr_dir: Path) -> None:
    """Recognizer.read(quick=True), for a worker that has fallen behind: no other view, not even for unsure reads
    (with no glyph classifier, nothing else either; test_second_reader has the quick read with one)."""
    crops = [whole_image_crop(load_frame(ocr_dir / r["file"]).image) for r in ocr_rows("us", 12)]
    thorough = Recognizer(recognizer, RecognizerConfig(views=("plain", "wide"), views_up_to=100.0))
    full, quick = thorough.read(crops), thorough.read(crops, quick=True)
    assert all(read.scored for read in full)
    first = Recognizer(recognizer, RecognizerConfig(views=("plain",))).read(crops)
    assert [(q.chars, q.scored) for q in quick] == [(f.chars, ()) for f in first]
