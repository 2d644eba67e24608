"""Reorder augmentation: move a plate's leading characters behind its last one.

Two thirds of the real crops are Brazilian (`LLL NNNN`), so the recognizer's BiLSTM learned that the first three
characters are letters: on endtoend-us it misread 8.7% of the digits in the first three places (`4` read `A` or
`L`, `6` read `G`, `5` read `B`) but 0.6% of those after them. Rotating the characters of a real crop
(`ABC1234` -> `1234ABC`) keeps every glyph, its lighting and its font, and shows the network digits where it
learned to expect letters, so it has to read each character by its shape.

Where the characters lie comes from the recognizer itself (pipeline.turn): a crop whose greedy reading equals its
label gives one centre per character. Inference can read a turned crop too (the `turn` read view).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from engines.networks import RecognizerNet
from pipeline.ctc_model import input_width, pixels_per_frame, to_recognizer_input
from pipeline.turn import CharacterSpans, locate_read, rotate_characters, turn_text
from training.datasets import OcrSample


def locate_characters(net: RecognizerNet, image: np.ndarray, text: str, charset: str, height: int,
                      max_width: int) -> CharacterSpans | None:
    """The spans of `text` in `image`, or None when the recognizer does not read exactly `text` there, or the
    crop is too narrow for one line of characters."""
    h, w = image.shape[:2]
    if len(text) < 2 or w < 1.5 * h:
        return None
    width = input_width(image, height, max_width)
    tensor = torch.from_numpy(to_recognizer_input(image, height, width))[None]
    with torch.inference_mode():
        logits = net(tensor)[0].float().numpy()
    classes, spans = locate_read(logits, pixels_per_frame(image, logits.shape[0], height, width), w)
    return spans if "".join(charset[c - 1] for c in classes) == text else None


def reorder_crop(image: np.ndarray, spans: CharacterSpans, text: str, k: int) -> tuple[np.ndarray, str]:
    """The crop and its label with the first k characters moved behind the last."""
    return rotate_characters(image, spans, k), turn_text(text, k)


def respell_crop(image: np.ndarray, spans: CharacterSpans, text: str,
                 rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The crop and its label with one character replaced by a copy of another character of the same plate.

    The plate keeps its font, lighting and blur, but shows a character where its region's format never puts one
    (a US plate's `6HP995` as `HHP995` or `66P995`), so the network must read that place by its shape."""
    bounds = [spans.left, *spans.cuts, spans.right]
    target = int(rng.integers(len(text)))
    donors = [j for j, c in enumerate(text) if c != text[target]]
    if len(bounds) != len(text) + 1 or not donors:
        return image, text
    donor = donors[int(rng.integers(len(donors)))]
    x0, x1 = bounds[target], bounds[target + 1]
    glyph = image[:, bounds[donor]:bounds[donor + 1]]
    out = image.copy()
    out[:, x0:x1] = cv2.resize(glyph, (x1 - x0, image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return out, text[:target] + text[donor] + text[target + 1:]


def character_spans(net: RecognizerNet, samples: list[OcrSample], images: list[np.ndarray], config: dict[str, Any],
                    device: str) -> list[CharacterSpans | None]:
    """Where the characters of each training crop lie, as the initial network (on the CPU, then back on
    `device`) reads them; None for crops of the regions in `reorder_skip` (Chinese plates: the province always
    comes first) and for crops it misreads."""
    skip = set(config.get("reorder_skip") or [])  # also the regions never respelled
    known: dict[Path, CharacterSpans | None] = {}  # oversampled crops repeat
    net.cpu().eval()
    for sample, image in zip(tqdm(samples, desc="character spans", unit="crop"), images, strict=True):
        if sample.path not in known and sample.region.split("-")[0] not in skip:
            known[sample.path] = locate_characters(net, image, sample.text, config["charset"], config["height"],
                                                   config["width"])
    net.to(device).train()
    spans = [known.get(s.path) for s in samples]
    print(f"reorder/respell: character spans for {sum(s is not None for s in spans)} of {len(spans)} training crops")
    return spans
