"""Synthetic plate renderer: determinism, styles, labels, visible text, dataset files and CLI (all fast)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from training import plate_styles, synthetic
from training.augment import augment_plate, stretch_x
from training.datasets import read_ocr_set
from training.emblems import EMBLEM
from training.plate_styles import PROVINCES, STYLES, find_cjk_font, find_fonts, generate_text
from training.synthetic import draw_plate, main, render_many, render_plate, write_dataset

LABEL = re.compile(f"[A-Z0-9{PROVINCES}]+")
TWO_LINE = {name for name, style in STYLES.items() if style.lines == 2}


def template_pattern(template: str, letters: str, province_optional: bool) -> str:
    """The label a template may produce: separators and the row break are not part of a label."""
    parts = {"L": f"[{letters}]", "N": "[0-9]", "A": f"[{letters}0-9]", "P": f"[{PROVINCES}]"}
    pattern = "".join(parts.get(c, "") for c in template)
    return pattern.replace(f"[{PROVINCES}]", f"[{PROVINCES}]?") if province_optional else pattern


def center_std(image: np.ndarray) -> float:
    """Grayscale spread of the middle of the crop, where the characters are."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    return float(gray[int(h * 0.35) : int(h * 0.65), int(w * 0.3) : int(w * 0.7)].std())


def test_same_seed_gives_same_plates() -> None:
    first, again, other = render_many(6, seed=3), render_many(6, seed=3), render_many(6, seed=4)
    assert [p.text for p in first] == [p.text for p in again]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, again, strict=True))
    assert [p.text for p in first] != [p.text for p in other]


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_renders_an_rgb_crop_with_a_matching_label(style: str) -> None:
    rng = np.random.default_rng(11)
    spec = STYLES[style]
    patterns = [template_pattern(t, spec.letters, province_optional=True) for t in spec.templates]
    for _ in range(3):
        plate = render_plate(rng, style)
        assert plate.region == style
        assert plate.image.dtype == np.uint8 and plate.image.ndim == 3 and plate.image.shape[2] == 3
        h, w = plate.image.shape[:2]
        assert 24 <= h <= 120 and 8 <= w <= 8 * h
        assert any(re.fullmatch(p, plate.text) for p in patterns), plate.text


def test_labels_use_the_plate_alphabet_only() -> None:
    plates = render_many(40, seed=5)
    assert {p.region for p in plates} <= set(STYLES)
    assert len({p.region for p in plates}) >= 5  # styles are mixed, not one style repeated
    for plate in plates:
        assert LABEL.fullmatch(plate.text), plate.text


def test_cn_labels_start_with_a_province_when_a_cjk_font_exists() -> None:
    if find_cjk_font() is None:
        pytest.skip("no CJK font on this machine (apt-get install fonts-wqy-microhei)")
    rng = np.random.default_rng(2)
    texts = [render_plate(rng, "cn").text for _ in range(4)]
    assert all(t[0] in PROVINCES and re.fullmatch("[A-Z][A-Z0-9]{5}", t[1:]) for t in texts), texts


def test_without_cjk_font_cn_plates_drop_the_province_and_keep_the_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    style = STYLES["cn"]
    _, with_province = generate_text(style, np.random.default_rng(7), with_province=True)
    _, without = generate_text(style, np.random.default_rng(7), with_province=False)
    assert with_province[1:] == without and without[0] not in PROVINCES
    monkeypatch.setattr(synthetic, "find_cjk_font", lambda: None)
    plates = render_many(4, seed=8, styles=["cn"])
    assert all(re.fullmatch("[A-Z][A-Z0-9]{5}", p.text) for p in plates), [p.text for p in plates]


def test_two_line_layouts_are_taller_for_their_width() -> None:
    plates = render_many(48, seed=9)
    ratio = {True: [], False: []}  # type: dict[bool, list[float]]
    for plate in plates:
        ratio[plate.region in TWO_LINE].append(plate.image.shape[0] / plate.image.shape[1])
    assert ratio[True] and ratio[False]
    assert np.median(ratio[True]) > 1.4 * np.median(ratio[False])


@pytest.mark.parametrize("style", sorted(STYLES))
def test_clean_plate_shows_its_characters(style: str) -> None:
    """A good share of the clean plate is in the text colour: the characters were really drawn."""
    spec, rng = STYLES[style], np.random.default_rng(1)
    text, _ = generate_text(spec, rng, with_province=find_cjk_font() is not None)
    plate = np.asarray(draw_plate(spec, text, rng, find_fonts()[0], find_cjk_font()), dtype=np.int32)
    near_text = np.abs(plate - np.array(spec.text_color)).sum(axis=2) < 60
    assert 0.06 < near_text.mean() < 0.5


def test_rendered_crops_have_visible_contrast() -> None:
    stds = [center_std(p.image) for p in render_many(48, seed=12)]
    assert min(stds) > 10 and float(np.median(stds)) > 30


def test_write_dataset_writes_images_and_readable_labels(tmp_path: Path) -> None:
    labels = write_dataset(tmp_path / "synth", n=5, seed=21, styles=["eu", "cn", "br-old-moto"])
    assert labels == tmp_path / "synth" / "labels.csv"
    assert labels.read_text(encoding="utf-8").splitlines()[0] == "file,text,region"
    samples = read_ocr_set(labels.parent)
    assert len(samples) == 5 and len(list(labels.parent.glob("*.jpg"))) == 5
    expected = render_many(5, seed=21, styles=["eu", "cn", "br-old-moto"])
    assert [(s.text, s.region) for s in samples] == [(p.text, p.region) for p in expected]
    for sample in samples:
        image = cv2.imread(str(sample.path))
        assert image is not None and image.shape[2] == 3


def test_cli_writes_the_requested_styles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--count", "4", "--seed", "1", "--styles", "eu,gb"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "labels.csv")
    assert {s.region for s in read_ocr_set(tmp_path)} <= {"eu", "gb"}
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), "--styles", "eu,mars"])
    assert exit_info.value.code == 2


def test_fonts_fall_back_to_matplotlib_when_no_system_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plate_styles, "_system_fonts", lambda: {})
    fonts = find_fonts.__wrapped__()  # uncached, so the real lookup stays cached for the other tests
    assert fonts and all(p.is_file() and "matplotlib" in str(p) for p in fonts)
    assert fonts[0].name == "DejaVuSans-Bold.ttf"


def test_emblems_are_drawn_between_characters_but_never_labelled() -> None:
    font = find_fonts()[0]
    glyphs, emblems = synthetic._text_mask(f"AB{EMBLEM}12", font, None, 0.1, np.random.default_rng(0))
    ink, badge = np.asarray(glyphs) > 127, np.asarray(emblems) > 127
    assert badge.any() and not (ink & badge).any()
    columns = np.flatnonzero(badge.any(axis=0))
    left, right = ink[:, : columns.min()].any(), ink[:, columns.max() + 1 :].any()
    assert left and right  # the emblem sits between the two groups
    with pytest.raises(ValueError, match="rng"):
        synthetic._text_mask(f"A{EMBLEM}1", font, None, 0.1)
    us = STYLES["us"]
    with_emblem = [t for t in us.templates if EMBLEM in t]
    assert with_emblem
    style = plate_styles.PlateStyle("one", us.aspect, (with_emblem[0],), us.backgrounds)
    drawn, label = generate_text(style, np.random.default_rng(1), with_province=False)
    assert EMBLEM in drawn and EMBLEM not in label and len(label) == len(drawn) - 1


def test_stretch_changes_only_the_width_within_its_bounds() -> None:
    crop = np.random.default_rng(1).integers(0, 255, (60, 120, 3), dtype=np.uint8)
    rng = np.random.default_rng(0)
    widths = {stretch_x(crop, rng, 0.4).shape[1] for _ in range(200)}
    assert min(widths) >= round(120 / 1.4) and max(widths) <= round(120 * 1.4)
    assert min(widths) < 100 and max(widths) > 140  # both ways, not one fixed factor
    assert {stretch_x(crop, rng, 0.4).shape[0] for _ in range(20)} == {60}
    stretched = [augment_plate(crop, rng, jitter=0.0, stretch=0.4).shape[1] for _ in range(100)]
    assert 20 < sum(w != 120 for w in stretched) < 80  # half the crops


def test_parallel_rendering_is_seeded_per_share(tmp_path: Path) -> None:
    """A GPU box renders tens of thousands of plates in several processes: the same seed and workers give the
    same plates, and every index is written once."""
    first = write_dataset(tmp_path / "a", 9, seed=4, workers=2).read_text()
    assert write_dataset(tmp_path / "b", 9, seed=4, workers=2).read_text() == first
    names = [line.split(",")[0] for line in first.splitlines()[1:]]
    assert names == [f"synth_4_{i:06d}.jpg" for i in range(9)]
    assert all((tmp_path / "a" / name).is_file() for name in names)
