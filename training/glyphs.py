"""`platestream train glyphs`: the glyph classifier of the glyph check (pipeline.glyphs).

Glyphs come from the real OCR crops (the same split, corrections and exclusions as `train ocr`; `synthetic:` adds
rendered plates): the recognizer named by `recognizer:` (the shipped one by default) locates every character of each
crop it reads exactly as labelled (training.reorder.locate_characters),
and each character is cut out as inference cuts it, with its window moved and resized a little. A crop is used as
it is and in `copies - 1` versions smeared as a street camera sees it, so the classifier learns the plates
endtoend-us shows (15-75 px high) from close-ups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from engines.networks import GlyphNet, RecognizerNet
from pipeline.ctc_model import PLATE_ALPHABET
from pipeline.decode import decode_image
from pipeline.glyphs import character_centres, cut_glyph, cut_glyphs, to_glyph_input
from pipeline.turn import CharacterSpans
from training.augment import camera_smear
from training.config import save_config
from training.datasets import OcrSample
from training.detector import torch_device
from training.errors import DatasetError
from training.export import export_glyphs, load_recognizer_weights
from training.ocr import load_samples, log_epoch, one_cycle, synthetic_samples
from training.reorder import locate_characters
from training.tracking import Tracker, tracked


@dataclass(frozen=True)
class GlyphSet:
    images: np.ndarray  # N x H x W uint8
    labels: np.ndarray  # N, indices into PLATE_ALPHABET
    regions: np.ndarray  # N, the crop's region group (br, cn, us, ...)


def jittered_glyphs(gray: np.ndarray, spans: CharacterSpans, rng: np.random.Generator) -> list[np.ndarray]:
    """Every character, its window shifted by up to 15% of the pitch, 1.0-1.3 pitches wide, and up to 8% of the
    height cut at top and bottom: the spread of the cuts inference makes from its own reads."""
    centres, pitch = character_centres(spans)
    h = gray.shape[0]
    glyphs = []
    for centre in centres:
        top, bottom = (int(v) for v in rng.uniform(0, 0.08, 2) * h)
        shifted = centre + rng.uniform(-0.15, 0.15) * pitch
        glyphs.append(cut_glyph(gray, shifted, pitch * rng.uniform(0.5, 0.65), top, bottom))
    return glyphs


def glyph_set(samples: list[OcrSample], locator: RecognizerNet, charset: str, config: dict[str, Any],
              rng: np.random.Generator, copies: int, jitter: bool) -> GlyphSet:
    """Glyphs of every crop the locating recognizer reads right; characters outside A-Z0-9 (Chinese provinces) are
    left out. The first copy of a crop is the crop itself when `jitter` (training), smeared otherwise."""
    images, labels, regions = [], [], []
    for sample in tqdm(samples, desc="glyphs", unit="crop"):
        image = decode_image(sample.path.read_bytes(), str(sample.path)).image
        spans = locate_characters(locator, image, sample.text, charset, config["height"], config["width"])
        if spans is None:
            continue
        for copy in range(copies):
            view = image if jitter and copy == 0 else camera_smear(image, rng, 16, 64)
            gray = cv2.cvtColor(view, cv2.COLOR_RGB2GRAY)
            glyphs = jittered_glyphs(gray, spans, rng) if jitter else cut_glyphs(gray, spans)
            for char, glyph in zip(sample.text, glyphs, strict=True):
                if char in PLATE_ALPHABET:
                    images.append(glyph)
                    labels.append(PLATE_ALPHABET.index(char))
                    regions.append(sample.region.split("-")[0])
    if not images:
        raise DatasetError("no glyphs: the locating recognizer read none of the crops as labelled")
    return GlyphSet(np.stack(images), np.array(labels), np.array(regions))


def lighting(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Contrast and brightness of each glyph changed a little: plates in sun, shade and headlights."""
    n = len(images)
    contrast = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=generator)
    return images * contrast + 0.3 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)


def validate(net: GlyphNet, glyphs: GlyphSet, device: str) -> dict[str, float]:
    """Accuracy on the held-out glyphs, overall and per region."""
    net.eval()
    images = torch.from_numpy(to_glyph_input(list(glyphs.images)))
    with torch.inference_mode():
        predicted = torch.cat([net(images[i : i + 1024].to(device)).argmax(1).cpu()
                               for i in range(0, len(images), 1024)]).numpy()
    right = predicted == glyphs.labels
    per_region = {f"accuracy_{r}": float(right[glyphs.regions == r].mean()) for r in sorted(set(glyphs.regions))}
    return {"accuracy_all": float(right.mean()), **per_region}


def train_epoch(net: GlyphNet, images: torch.Tensor, labels: torch.Tensor, steps: Iterable[int], batch: int,
                optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                order: torch.Generator, device: str) -> float:
    """One pass over the glyphs in a random order; the mean loss."""
    net.train()
    total = 0.0
    shuffled = torch.randperm(len(labels), generator=order)
    for start in steps:
        index = shuffled[start : start + batch]
        x = lighting(images[index], order).to(device)
        loss = torch.nn.functional.cross_entropy(net(x), labels[index].to(device), label_smoothing=0.05)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(index)
    return total / len(labels)


def train_glyphs(config: dict[str, Any], run_dir: Path) -> Path:
    save_config(config, run_dir)
    with tracked(config, run_dir, files=[run_dir / "metrics.csv", run_dir / "config.yaml"]) as tracker:
        return fit_glyphs(config, run_dir, tracker)


def fit_glyphs(config: dict[str, Any], run_dir: Path, tracker: Tracker) -> Path:
    seed = int(config["seed"])
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = torch_device(str(config["device"]))
    locator, charset = load_recognizer_weights(Path(config["recognizer"]))
    train, val = load_samples({**config, "charset": charset, "oversample": {}})
    limit = int(config.get("limit") or 0) or None
    # the rendered plates give fonts and styles the real crops lack
    rendered = synthetic_samples({**config, "charset": charset}, run_dir)
    train = train[:limit] + rendered
    train_set = glyph_set(train, locator, charset, config, rng, int(config["copies"]), jitter=True)
    val_set = glyph_set(val[:limit], locator, charset, config, rng, 1, jitter=False)
    print(f"glyphs: {len(train_set.labels)} to train on from {len(train) - len(rendered)} real and {len(rendered)} "
          f"rendered crops, {len(val_set.labels)} held out (smeared)")
    net = GlyphNet(len(PLATE_ALPHABET)).to(device)
    images = torch.from_numpy(to_glyph_input(list(train_set.images)))
    labels = torch.from_numpy(train_set.labels).long()
    batch, epochs = int(config["batch"]), int(config["epochs"])
    optimizer = torch.optim.AdamW(net.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    scheduler = one_cycle(optimizer, config["lr"], epochs * -(-len(labels) // batch))
    order = torch.Generator().manual_seed(seed)
    metrics: dict[str, Any] = {}
    for epoch in range(epochs):
        steps = tqdm(range(0, len(labels), batch), desc=f"epoch {epoch + 1}/{epochs}", unit="batch")
        loss = train_epoch(net, images, labels, steps, batch, optimizer, scheduler, order, device)
        metrics = {"epoch": epoch + 1, "loss": loss, **validate(net, val_set, device)}
        log_epoch(metrics, run_dir / "metrics.csv", tracker)
    weights = run_dir / "last.pt"
    torch.save({"state_dict": net.cpu().state_dict(), "charset": PLATE_ALPHABET, "config": config}, weights)
    onnx_path, _ = export_glyphs(net, PLATE_ALPHABET, run_dir, weights,
                                 training={"run": run_dir.name, "metrics": metrics})
    return onnx_path
