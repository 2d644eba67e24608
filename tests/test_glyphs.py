"""The glyph check (pipeline.glyphs): characters cut at the recognizer's spans, classified alone, and the shipped
glyph classifier on real plates; `platestream train glyphs` on a few crops."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from engines import Engine, EngineFileError, ModelKind, create_engine
from pipeline.ctc_model import PLATE_ALPHABET
from pipeline.glyphs import (
    GLYPH_HEIGHT,
    GLYPH_WIDTH,
    GlyphEvidence,
    cut_glyphs,
    glyph_log_probs,
    glyph_score,
    to_glyph_input,
    with_glyphs,
)
from pipeline.reader import PlateReader
from pipeline.recognize import Recognizer, RecognizerConfig
from pipeline.turn import CharacterSpans
from platestream.cli import main
from platestream.models import SHIPPED_MODELS
from tests.conftest import load_frame
from training.datasets import apply_corrections, read_corrections, read_ocr_set, split_of

CORRECTIONS = Path(__file__).parents[1] / "training" / "corrections" / "plates-ocr.csv"


def drawn_plate(text: str, pitch: int = 30, height: int = 60) -> tuple[np.ndarray, CharacterSpans]:
    """Black characters on white, one every `pitch` columns, and their spans."""
    image = np.full((height, pitch * len(text) + 20, 3), 255, np.uint8)
    for i, char in enumerate(text):
        cv2.putText(image, char, (10 + i * pitch + 4, height - 15), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    cuts = tuple(10 + i * pitch for i in range(1, len(text)))
    return image, CharacterSpans(10, cuts, 10 + pitch * len(text))


def test_each_character_is_cut_centred_at_the_glyph_size() -> None:
    image, spans = drawn_plate("4A7")
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    glyphs = cut_glyphs(gray, spans)
    assert len(glyphs) == 3 and all(g.shape == (GLYPH_HEIGHT, GLYPH_WIDTH) for g in glyphs)
    for glyph in glyphs:  # the ink lies in the middle of each window, not at its edges
        ink = (255 - glyph.astype(float)).sum(axis=0)
        centre = (ink * np.arange(GLYPH_WIDTH)).sum() / ink.sum()
        assert abs(centre - GLYPH_WIDTH / 2) < GLYPH_WIDTH / 4
    batch = to_glyph_input(glyphs)
    assert batch.shape == (3, 1, GLYPH_HEIGHT, GLYPH_WIDTH) and batch.min() >= -1 and batch.max() <= 1


def test_a_window_past_the_crop_edge_repeats_the_edge() -> None:
    gray = np.full((40, 50), 200, np.uint8)
    glyphs = cut_glyphs(gray, CharacterSpans(0, (25,), 50))  # windows 1.15 pitches wide run past both edges
    assert [g.shape for g in glyphs] == [(GLYPH_HEIGHT, GLYPH_WIDTH)] * 2
    assert all((g == 200).all() for g in glyphs)


def test_o_and_zero_share_their_probability() -> None:
    logits = np.zeros((1, len(PLATE_ALPHABET)), np.float32)
    logits[0, PLATE_ALPHABET.index("O")] = 3.0
    log_probs = glyph_log_probs(logits, PLATE_ALPHABET)
    o, zero = log_probs[0, PLATE_ALPHABET.index("O")], log_probs[0, PLATE_ALPHABET.index("0")]
    assert o == zero
    assert math.exp(o) == pytest.approx((math.exp(3) + 1) / (math.exp(3) + len(PLATE_ALPHABET) - 1))


def test_a_clear_glyph_outvotes_the_recognizers_sense_of_place() -> None:
    log_probs = np.log(np.full((4, len(PLATE_ALPHABET)), 0.001, np.float32))
    for i, char in enumerate("4123"):
        log_probs[i, PLATE_ALPHABET.index(char)] = math.log(0.9)
    scored = (("A123", -1.0), ("4123", -1.5), ("A12", -1.2))
    rescored = dict(with_glyphs(scored, log_probs, "A123", PLATE_ALPHABET, weight=0.5))
    assert max(rescored, key=lambda t: rescored[t]) == "4123"
    assert rescored["4123"] == -1.5  # the best glyph string is the reference: its score stays
    penalty = rescored["A123"] - (-1.0)  # the first read loses half its glyph log-likelihood gap to 4123
    assert penalty == pytest.approx(0.5 * (log_probs[0, PLATE_ALPHABET.index("A")] - math.log(0.9)))
    assert rescored["A12"] == pytest.approx(-1.2 + penalty)  # another length: the first read's term
    assert all(score <= ctc for (_, ctc), score in zip(scored, (rescored[t] for t, _ in scored), strict=True))
    assert with_glyphs(scored, log_probs, "A1234", PLATE_ALPHABET, 0.5) == scored  # first read not comparable
    assert glyph_score(log_probs, "京123", PLATE_ALPHABET) is None


def test_glyph_evidence_disagrees_only_where_a_glyph_reads_another_character() -> None:
    logits = np.zeros((4, len(PLATE_ALPHABET)), np.float32)
    for i, char in enumerate("O123"):
        logits[i, PLATE_ALPHABET.index(char)] = 5.0
    log_probs = glyph_log_probs(logits, PLATE_ALPHABET)
    assert not GlyphEvidence("O123", log_probs, PLATE_ALPHABET).disagrees()
    assert not GlyphEvidence("0123", log_probs, PLATE_ALPHABET).disagrees()  # O and 0: one glyph
    assert GlyphEvidence("O128", log_probs, PLATE_ALPHABET).disagrees()
    assert not GlyphEvidence("O12", log_probs, PLATE_ALPHABET).disagrees()  # not comparable character by character


@pytest.fixture(scope="module")
def glyphs() -> Engine:
    return create_engine(SHIPPED_MODELS / "glyphs.onnx")


def test_shipped_glyph_engine_carries_its_metadata(glyphs: Engine) -> None:
    meta = glyphs.metadata
    assert meta.kind == ModelKind.GLYPHS and meta.charset == PLATE_ALPHABET
    assert (meta.input_height, meta.input_width) == (GLYPH_HEIGHT, GLYPH_WIDTH)
    torch_engine = create_engine(SHIPPED_MODELS / "glyphs.pt")
    batch = np.random.default_rng(0).uniform(-1, 1, (4, 1, GLYPH_HEIGHT, GLYPH_WIDTH)).astype(np.float32)
    np.testing.assert_allclose(glyphs.infer(batch), torch_engine.infer(batch), atol=0.05)


def test_glyph_check_reads_held_out_crops_at_least_as_well(recognizer: Engine, glyphs: Engine, ocr_dir: Path) -> None:
    """The glyph check on real crops it never trained on: it may change a read only where it is unsure, and over
    a third of the held-out split it must not read fewer plates right (measured on all: MODEL_CARD.md)."""
    from pipeline.formats import load_regions
    from training.evaluate_ocr import evaluate_crops

    # labels as corrected by eye: the check reads the mislabelled Brazilian crops as their images show
    samples = apply_corrections(ocr_dir, read_ocr_set(ocr_dir), read_corrections(CORRECTIONS))
    held_out = [s for s in samples if split_of(s.path.name, 0.15) == "val"][1::3]
    generic = load_regions()["generic"]
    without, plain = evaluate_crops(Recognizer(recognizer, RecognizerConfig(glyph_weight=0.0), glyphs=glyphs),
                                    held_out, generic)
    with_check, checked = evaluate_crops(Recognizer(recognizer, RecognizerConfig(), glyphs=glyphs), held_out, generic)
    assert with_check.exact >= without.exact, (with_check, without)
    changed = [(a.label, a.predicted, b.predicted) for a, b in zip(plain, checked, strict=True) if a != b]
    assert changed, "the glyph check changed no read"


def test_glyph_check_leaves_sure_reads_alone(recognizer: Engine, glyphs: Engine, ocr_dir: Path) -> None:
    from pipeline.crop import whole_image_crop

    rows = [s for s in read_ocr_set(ocr_dir) if s.region == "br"][:20]
    crops = [whole_image_crop(load_frame(s.path).image) for s in rows]
    # no read is unsure, and sure ones are not rechecked: nothing is rescored
    sure_only = RecognizerConfig(views_up_to=0.0, glyph_weight=5.0, glyph_recheck=False)
    assert [t.text for t in Recognizer(recognizer, sure_only, glyphs=glyphs).read(crops)] == \
        [t.text for t in Recognizer(recognizer, sure_only).read(crops)]


def test_a_sure_read_the_glyph_classifier_contradicts_is_rechecked(recognizer: Engine, glyphs: Engine,
                                                                   ocr_dir: Path) -> None:
    """A held-out Brazilian crop the recognizer reads `PVY3872`, sure of it, so that only the recheck rescores it
    (the glyph classifier reads the 6; MODEL_CARD.md, "the glyph recheck")."""
    from pipeline.crop import whole_image_crop
    from pipeline.postprocess import best_confidence

    crop = whole_image_crop(load_frame(ocr_dir / "br" / "02200_PVY3672.jpg").image)
    [unchecked] = Recognizer(recognizer, RecognizerConfig(glyph_recheck=False), glyphs=glyphs).read([crop])
    [rechecked] = Recognizer(recognizer, RecognizerConfig(), glyphs=glyphs).read([crop])
    assert best_confidence(unchecked) > RecognizerConfig().views_up_to and unchecked.text == "PVY3872"
    assert not unchecked.scored  # a sure read: never rescored
    assert rechecked.scored[0][0] == "PVY3672"


def test_a_recognizer_file_is_refused_as_glyph_classifier(detector: Engine, recognizer: Engine) -> None:
    with pytest.raises(EngineFileError, match="expected a glyphs engine"):
        PlateReader(detector, recognizer, glyphs=recognizer)


def test_cli_refuses_a_wrong_glyph_file_and_runs_without_the_check(ocr_dir: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    image = str(ocr_dir / "us" / "ca1629.jpg")
    assert main(["recognize", image, "--glyphs", str(SHIPPED_MODELS / "recognizer.onnx")]) != 0
    assert "expected a glyphs engine" in capsys.readouterr().err
    assert main(["recognize", image, "--glyph-weight", "0", "--glyphs", "/nonexistent.onnx"]) == 0


def test_train_glyphs_on_a_few_crops_exports_a_working_engine(tmp_path: Path, ocr_dir: Path, recognizer: Engine,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "glyphs", f"data={ocr_dir}", "limit=40", "epochs=1", "copies=2", "batch=64", "synthetic=6",
                 "--runs", str(tmp_path)]) == 0
    assert "from 40 real and 6 rendered crops" in capsys.readouterr().out
    (run,) = (tmp_path / "glyphs").iterdir()
    written = {p.name for p in run.iterdir()}
    assert {"config.yaml", "metrics.csv", "glyphs.onnx", "glyphs.pt", "last.pt", "synthetic"} <= written
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert "accuracy_all" in header and "accuracy_us" in header  # the first 40 crops of plates-ocr are US
    engine = create_engine(run / "glyphs.onnx")
    assert engine.metadata.kind == ModelKind.GLYPHS and engine.metadata.training["run"] == run.name
    from pipeline.crop import whole_image_crop

    crop = whole_image_crop(load_frame(ocr_dir / "us" / "ca1629.jpg").image)
    read = Recognizer(recognizer, RecognizerConfig(views_up_to=100.0), glyphs=engine).read([crop])
    assert read[0].text  # an untrained-looking classifier still yields a read, through the same path


def test_confidences_stay_within_0_to_100_with_the_glyph_check(service_reader: PlateReader,
                                                               endtoend_dir: Path) -> None:
    """Frames whose reads the glyph check rescores: every candidate's confidence is a share (0..100), and the
    candidates stay ranked by it, as the API reports them."""
    names = ("316b64c0-55bf-4079-a1c0-d93f461a576f.jpg", "wts-lg-000066.jpg", "wts-lg-000076.jpg",
             "wts-lg-000085.jpg", "wts-lg-000134.jpg")
    results = service_reader.read([load_frame(endtoend_dir / name) for name in names])
    reads = [r for result in results for r in result.reads]
    assert len(reads) >= len(names)
    for read in reads:
        confidences = [c.confidence for c in read.candidates]
        assert all(0 <= c <= 100 for c in confidences), (read.plate, confidences)
        assert confidences == sorted(confidences, reverse=True) and read.confidence == confidences[0]
