"""Reorder and respell augmentations: characters located by the recognizer's own CTC emissions, then rotated or
respelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.turn import CharacterSpans, emission_centres
from platestream.models import SHIPPED_MODELS
from tests.conftest import load_frame, ocr_rows
from training.datasets import OcrSample
from training.export import load_recognizer_weights
from training.ocr import CropDataset
from training.reorder import locate_characters, reorder_crop, respell_crop


def test_emission_centres_follow_greedy_ctc_decoding() -> None:
    # frames: blank, A, A, blank, B, B, B, A, blank -> A at 1.5, B at 5, A at 7 (a repeat needs no blank between
    # different classes, and a run of one class is one character)
    path = [0, 1, 1, 0, 2, 2, 2, 1, 0]
    logits = np.eye(3)[path]
    classes, centres = emission_centres(logits)
    assert classes == [1, 2, 1]
    assert centres == [1.5, 5.0, 7.0]


def test_rotation_moves_leading_characters_behind_the_rest_and_keeps_the_margins() -> None:
    # columns 0-1 margin, characters A B C D at 2-3, 4-5, 6-7, 8-9, margin 10-11; each column holds its index
    image = np.tile(np.arange(12, dtype=np.uint8), (3, 1))
    spans = CharacterSpans(left=2, cuts=(4, 6, 8), right=10)
    rotated, text = reorder_crop(image, spans, "ABCD", 1)
    assert text == "BCDA"
    assert rotated.shape == image.shape
    assert rotated[0].tolist() == [0, 1, 4, 5, 6, 7, 8, 9, 2, 3, 10, 11]
    assert reorder_crop(image, spans, "ABCD", 3)[1] == "DABC"


def test_respelling_copies_another_character_of_the_plate_into_one_place() -> None:
    # characters A B C D at columns 2-3, 4-5, 6-7, 8-9; each column holds its index
    image = np.tile(np.arange(12, dtype=np.uint8), (3, 1))
    spans = CharacterSpans(left=2, cuts=(4, 6, 8), right=10)
    rng = np.random.default_rng(0)
    for _ in range(20):
        respelled, text = respell_crop(image, spans, "ABCD", rng)
        changed = [k for k in range(4) if text[k] != "ABCD"[k]]
        assert len(changed) == 1 and sorted(set(text)) != sorted("ABCD")  # one place, spelled as another one
        target, donor = changed[0], "ABCD".index(text[changed[0]])
        assert respelled[:, 2 + 2 * target: 4 + 2 * target].tolist() == image[:, 2 + 2 * donor: 4 + 2 * donor].tolist()
        outside = [c for c in range(12) if not 2 + 2 * target <= c < 4 + 2 * target]
        assert respelled[:, outside].tolist() == image[:, outside].tolist()
    assert image[0].tolist() == list(range(12))  # the cached crop itself is never changed


def test_a_plate_of_one_repeated_character_is_not_respelled() -> None:
    image = np.zeros((3, 12), np.uint8)
    spans = CharacterSpans(left=2, cuts=(4, 6, 8), right=10)
    assert respell_crop(image, spans, "0000", np.random.default_rng(0))[1] == "0000"


def test_real_crops_rotate_into_plates_the_recognizer_reads(ocr_dir: Path) -> None:
    """The located cuts fall between characters: the shipped recognizer reads most rotated close-ups as the
    rotated text (a cut through a character would break two of them)."""
    net, charset = load_recognizer_weights(SHIPPED_MODELS / "recognizer.pt")
    net.eval()
    located = read = 0
    for row in ocr_rows("us", 12) + ocr_rows("br", 12):
        image = load_frame(ocr_dir / row["file"]).image
        text = "".join(c for c in row["text"].upper() if c.isalnum())
        spans = locate_characters(net, image, text, charset, 64, 256)
        if spans is None:
            continue
        located += 1
        assert 0 <= spans.left < spans.cuts[0] and spans.cuts[-1] < spans.right <= image.shape[1]
        k = len(text) // 2
        rotated, rotated_text = reorder_crop(image, spans, text, k)
        read += locate_characters(net, rotated, rotated_text, charset, 64, 256) is not None
    assert located >= 18  # the shipped recognizer reads most close-ups exactly, which locating requires
    assert read >= 0.75 * located


CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def one_crop_dataset(ocr_dir: Path, region: str) -> tuple[CropDataset, str, list[CharacterSpans | None]]:
    """A training dataset of one real crop, its text, and spans that cut the crop into equal characters."""
    row = ocr_rows(region, 1)[0]
    text = "".join(c for c in row["text"].upper() if c.isalnum())
    dataset = CropDataset([OcrSample(ocr_dir / row["file"], text, region)], CHARSET, True, seed=0)
    width = dataset.images[0].shape[1]
    cuts = tuple(round(width * (k + 1) / (len(text) + 1)) for k in range(len(text) - 1))
    return dataset, text, [CharacterSpans(1, cuts, width - 1)]


def drawn_labels(dataset: CropDataset, draws: int) -> set[str]:
    return {"".join(CHARSET[c - 1] for c in dataset[0][1]) for _ in range(draws)}


def test_dataset_rotates_the_label_with_the_crop(ocr_dir: Path) -> None:
    dataset, text, spans = one_crop_dataset(ocr_dir, "br")
    dataset.enable_span_augments(spans, reorder=1.0)
    labels = drawn_labels(dataset, 20)
    assert text not in labels  # every crop drawn is reordered
    assert all(sorted(label) == sorted(text) and label in text + text for label in labels)


def test_dataset_respells_only_when_asked(ocr_dir: Path) -> None:
    dataset, text, spans = one_crop_dataset(ocr_dir, "us")
    dataset.enable_span_augments(spans)
    assert drawn_labels(dataset, 10) == {text}
    dataset.enable_span_augments(spans, respell=1.0)
    labels = drawn_labels(dataset, 20)
    assert text not in labels or len(set(text)) == 1
    assert all(len(label) == len(text) and sum(a != b for a, b in zip(label, text, strict=True)) == 1
               for label in labels)
