"""Fine-tune EasyOCR's english_g2 recognizer on plate crops with CTC (`platestream train ocr`)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from engines.networks import ENGLISH_G2_CHARSET, RecognizerNet, english_g2_weights, strip_data_parallel
from pipeline.ctc_model import input_width, to_recognizer_input
from pipeline.decode import decode_image
from pipeline.turn import CharacterSpans, emission_centres
from training.augment import augment_plate
from training.config import load_config, save_config
from training.datasets import (
    OcrSample,
    apply_corrections,
    normalize_plate,
    read_corrections,
    read_csv,
    read_ocr_set,
    split_of,
)
from training.detector import torch_device
from training.errors import DatasetError
from training.export import load_recognizer_weights
from training.reorder import character_spans, reorder_crop, respell_crop
from training.tracking import Tracker, tracked


class CropDataset(Dataset[tuple[np.ndarray, list[int]]]):
    """Real or rendered crops, augmented when training; each item is (RGB crop, label classes)."""

    def __init__(self, samples: list[OcrSample], charset: str, augment: bool, seed: int, camera: float = 0.0,
                 jitter: float = 0.08, stretch: float = 0.0):
        self.samples, self.augment, self.camera, self.jitter, self.stretch = samples, augment, camera, jitter, stretch
        self.index = {c: i + 1 for i, c in enumerate(charset)}  # 0 is the CTC blank
        self.images = [decode_image(s.path.read_bytes(), str(s.path)).image for s in samples]
        self.rng = np.random.default_rng(seed)
        self.spans: list[CharacterSpans | None] = [None] * len(samples)
        self.reorder = self.respell = 0.0

    def enable_span_augments(self, spans: list[CharacterSpans | None], reorder: float = 0.0,
                             respell: float = 0.0) -> None:
        """Of the crops whose character spans are known, rotate the characters of a `reorder` share and respell a
        `respell` share of the others (training.reorder)."""
        self.spans, self.reorder, self.respell = spans, reorder, respell

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[np.ndarray, list[int]]:
        image, text, spans = self.images[i], self.samples[i].text, self.spans[i]
        if self.augment and spans is not None and self.rng.random() < self.reorder:
            image, text = reorder_crop(image, spans, text, int(self.rng.integers(1, len(text))))
        elif self.augment and spans is not None and self.rng.random() < self.respell:
            image, text = respell_crop(image, spans, text, self.rng)
        if self.augment:
            image = augment_plate(image, self.rng, self.camera, self.jitter, self.stretch)
        return image, [self.index[c] for c in text]


class WidthBatches(Sampler[list[int]]):
    """Shuffled batches of crops that the recognizer reads at the same input width.

    At inference, crops of one width go through together and a 2:1 US plate is read 128 columns wide with no
    padding (pipeline.recognize). Training every crop padded to the full width taught the network a padded
    right edge it then never sees: the recognizer trained that way read endtoend-us's labelled plates better at
    the full width than at the width inference uses (0.743 vs 0.712 exact; 0.730 vs 0.721 end to end). Batching
    by width shows crops as inference reads them.
    """

    def __init__(self, widths: list[int], batch_size: int, seed: int, shuffle: bool = True, epoch: int = 0) -> None:
        self.groups: dict[int, list[int]] = {}
        for index, width in enumerate(widths):
            self.groups.setdefault(width, []).append(index)
        # a resumed run starts at its next epoch's shuffle, not at the first epoch's again
        self.batch_size, self.seed, self.shuffle, self.epoch = batch_size, seed, shuffle, epoch

    def __len__(self) -> int:
        return sum(math.ceil(len(g) / self.batch_size) for g in self.groups.values())

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng(self.seed + self.epoch)
        self.epoch += 1
        batches = []
        for group in self.groups.values():
            order = rng.permutation(group).tolist() if self.shuffle else group
            batches += [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]
        yield from (batches[j] for j in (rng.permutation(len(batches)) if self.shuffle else range(len(batches))))


class Collate:
    """Crops -> (images, targets, lengths), at the widest input width in the batch; a share `full_width` of the
    batches at the engine's full width instead, as fixed-width engines (TensorRT plans) read every crop."""

    def __init__(self, height: int, width: int, full_width: float, seed: int) -> None:
        self.height, self.width, self.full_width = height, width, full_width
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch: list[tuple[np.ndarray, list[int]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images, labels = zip(*batch, strict=True)
        width = self.width
        if self.rng.random() >= self.full_width:
            width = max(input_width(image, self.height, self.width) for image in images)
        tensors = [torch.from_numpy(to_recognizer_input(image, self.height, width)) for image in images]
        targets = torch.tensor([c for label in labels for c in label], dtype=torch.long)
        return torch.stack(tensors), targets, torch.tensor([len(label) for label in labels], dtype=torch.long)


def width_loader(dataset: CropDataset, config: dict[str, Any], batch: int, full_width: float, seed: int,
                 shuffle: bool = True, epoch: int = 0) -> DataLoader:
    h, w = config["height"], config["width"]
    widths = [input_width(image, h, w) for image in dataset.images]
    return DataLoader(dataset, batch_sampler=WidthBatches(widths, batch, seed, shuffle, epoch),
                      num_workers=config["workers"], collate_fn=Collate(h, w, full_width, seed),
                      worker_init_fn=reseed_worker)


def reseed_worker(worker_id: int) -> None:
    """Each loader process starts with a copy of the dataset's generator: without a seed of its own, every worker
    would draw the same augmentations (and `workers: 0`, the CPU default, never needs this). torch gives each
    worker of each epoch its own seed, derived from the run's."""
    info = torch.utils.data.get_worker_info()
    if info is None:
        return
    seed = torch.initial_seed() % 2**32
    info.dataset.rng = np.random.default_rng(seed)  # type: ignore[attr-defined]


def load_samples(config: dict[str, Any]) -> tuple[list[OcrSample], list[OcrSample]]:
    """Real crops split by hash, with label corrections applied; texts outside the charset or on the exclude list
    are left out."""
    charset, excluded = set(config["charset"]), excluded_texts(config)
    train: list[OcrSample] = []
    val: list[OcrSample] = []
    corrections = read_corrections(Path(config["corrections"])) if config.get("corrections") else {}
    for folder in [Path(config["data"]), *(Path(p) for p in config.get("extra_data") or [])]:
        for sample in apply_corrections(folder, read_ocr_set(folder), corrections):
            text = "".join(c for c in sample.text.upper() if not c.isspace() and c != "-")
            if not text or set(text) - charset or normalize_plate(text) in excluded:
                continue
            sample = OcrSample(sample.path, text, sample.region)
            (val if split_of(sample.path.name, config["val_fraction"]) == "val" else train).append(sample)
    if not train or not val:
        raise DatasetError("no usable crops for training and validation")
    return oversample(train, config.get("oversample") or {}), val


def excluded_texts(config: dict[str, Any]) -> set[str]:
    """`exclude_texts`, plus every plate of the label files in `exclude_label_files` (a `plate` or `text`
    column): plates that are scored elsewhere must not be trained on, whichever crop set holds them."""
    texts = [str(t) for t in config.get("exclude_texts") or []]
    for path in config.get("exclude_label_files") or []:
        rows = read_csv(Path(path), set())
        texts += [row.get("plate") or row.get("text") or "" for row in rows]
    return {normalize_plate(t) for t in texts} - {""}


def oversample(samples: list[OcrSample], factors: dict[str, int]) -> list[OcrSample]:
    """Repeat the crops of small regions (`oversample: {us: 3}`) so each epoch sees them as often as the rest."""
    out = []
    for sample in samples:
        out.extend([sample] * max(1, int(factors.get(sample.region.split("-")[0], 1))))
    return out


def synthetic_samples(config: dict[str, Any], run_dir: Path) -> list[OcrSample]:
    """Rendered plates of regions the real crops lack (EU, UK, ...), written once into the run folder."""
    count = int(config.get("synthetic") or 0)
    if count <= 0:
        return []
    from training.synthetic import write_dataset

    folder = run_dir / "synthetic"
    if not (folder / "labels.csv").is_file():
        # `synthetic_styles` picks the styles; a style named twice is drawn twice as often
        write_dataset(folder, count, seed=int(config["seed"]), styles=config.get("synthetic_styles") or None,
                      workers=int(config.get("synthetic_workers") or 1))
    charset = set(config["charset"])
    return [s for s in read_ocr_set(folder) if s.text and not set(s.text) - charset]


def initial_network(charset: str, init: str | None = None) -> RecognizerNet:
    """english_g2 weights, or those of an earlier plate recognizer (`init`: its .pt, e.g. the shipped one).

    From english_g2, the output layer keeps the pretrained rows of characters both charsets share.
    """
    if init:
        net, init_charset = load_recognizer_weights(Path(init))
        if init_charset != charset:
            raise DatasetError(f"{init} was trained for another charset ({len(init_charset)} characters, config has "
                               f"{len(charset)})")
        return net.train()
    net = RecognizerNet(num_class=len(charset) + 1)
    state = strip_data_parallel(torch.load(english_g2_weights(), map_location="cpu", weights_only=True))
    old_w, old_b = state.pop("Prediction.weight"), state.pop("Prediction.bias")
    net.model.load_state_dict(state, strict=False)
    with torch.no_grad():
        head = net.model.Prediction
        head.weight[0], head.bias[0] = old_w[0], old_b[0]
        for i, char in enumerate(charset, start=1):
            j = ENGLISH_G2_CHARSET.find(char)
            if j >= 0:
                head.weight[i], head.bias[i] = old_w[j + 1], old_b[j + 1]
    return net


def greedy_texts(logits: torch.Tensor, charset: str) -> list[str]:
    return ["".join(charset[c - 1] for c in emission_centres(row)[0]) for row in logits.float().cpu().numpy()]


def validate(net: RecognizerNet, loader: DataLoader, samples: list[OcrSample], charset: str,
             device: str) -> dict[str, float]:
    from rapidfuzz.distance import Levenshtein

    net.eval()
    predicted = [""] * len(samples)
    batches = list(loader.batch_sampler or [])  # unshuffled: the order the loader yields them
    with torch.inference_mode():
        for indices, (images, _, _) in zip(batches, loader, strict=True):
            for i, text in zip(indices, greedy_texts(net(images.to(device)), charset), strict=True):
                predicted[i] = text
    metrics: dict[str, float] = {}
    regions = sorted({s.region.split("-")[0] for s in samples})
    for region in ["all", *regions]:
        pairs = [(p, s.text) for p, s in zip(predicted, samples, strict=True)
                 if region == "all" or s.region.split("-")[0] == region]
        metrics[f"exact_{region}"] = sum(p == t for p, t in pairs) / len(pairs)
        errors = sum(Levenshtein.distance(p, t) for p, t in pairs)
        metrics[f"char_accuracy_{region}"] = 1 - errors / sum(len(t) for _, t in pairs)
    return metrics


def train_ocr(config: dict[str, Any], run_dir: Path, resume: dict[str, Any] | None = None) -> Path:
    save_config(config, run_dir)
    with tracked(config, run_dir, files=[run_dir / "metrics.csv", run_dir / "config.yaml"]) as tracker:
        return fit_ocr(config, run_dir, tracker, resume)


def fit_ocr(config: dict[str, Any], run_dir: Path, tracker: Tracker, resume: dict[str, Any] | None) -> Path:
    torch.manual_seed(config["seed"])
    device = torch_device(str(config["device"]))
    charset, seed = config["charset"], config["seed"]
    train, val = load_samples(config)
    train += synthetic_samples(config, run_dir)
    camera = float(config.get("camera") or 0.0)
    # Configs saved before `full_width` existed trained every batch at the full width.
    full_width = float(config.get("full_width", 1.0))
    jitter = float(config.get("jitter", 0.08))
    dataset = CropDataset(train, charset, True, seed, camera, jitter, float(config.get("stretch") or 0.0))
    net = initial_network(charset, config.get("init")).to(device)
    reorder, respell = float(config.get("reorder") or 0.0), float(config.get("respell") or 0.0)
    if reorder > 0 or respell > 0:
        spans = character_spans(net, dataset.samples, dataset.images, config, device)
        dataset.enable_span_augments(spans, reorder, respell)
    start, best = (resume["epoch"] + 1, resume["best"]) if resume else (0, -1.0)
    loader = width_loader(dataset, config, config["batch"], full_width, seed, epoch=start)
    # held-out crops are read as inference reads them: each at its own width
    val_loader = width_loader(CropDataset(val, charset, False, 0), config, 64, 0.0, 0, shuffle=False)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    # A resumed run continues its learning-rate schedule; one whose epochs were raised gets a fresh
    # one-cycle schedule over the epochs left.
    steps = config["epochs"] * len(loader)
    same_schedule = bool(resume) and resume["scheduler"]["total_steps"] == steps  # type: ignore[index]
    total = steps if same_schedule or not resume else (config["epochs"] - start) * len(loader)
    scheduler = one_cycle(optimizer, config["lr"], total)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    if resume:
        net.load_state_dict(resume["state_dict"])
        optimizer.load_state_dict(resume["optimizer"])
        if same_schedule:
            scheduler.load_state_dict(resume["scheduler"])
    metrics_path = run_dir / "metrics.csv"
    for epoch in range(start, config["epochs"]):
        net.train()
        total = 0.0
        for images, targets, lengths in tqdm(loader, desc=f"epoch {epoch + 1}/{config['epochs']}", unit="batch"):
            log_probs = net(images.to(device)).log_softmax(2).permute(1, 0, 2)  # T x B x C for CTCLoss
            steps = torch.full((images.shape[0],), log_probs.shape[0], dtype=torch.long)
            loss = ctc(log_probs.float().cpu(), targets, steps, lengths)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimizer.step()
            scheduler.step()
            total += loss.item()
        metrics = {"epoch": epoch + 1, "loss": total / len(loader), **validate(net, val_loader, val, charset, device)}
        log_epoch(metrics, metrics_path, tracker)
        state = {"state_dict": net.state_dict(), "charset": charset, "metrics": metrics, "config": config}
        # Every epoch's weights (7 MiB, no optimizer state), so that any epoch can be exported or built on, not
        # only the best by held-out exact and the last: the two rank epochs differently end to end.
        torch.save(state, run_dir / f"epoch{epoch + 1}.pt")
        if metrics["exact_all"] > best:
            best = metrics["exact_all"]
            torch.save(state, run_dir / "best.pt")
        torch.save({**state, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "epoch": epoch, "best": best}, run_dir / "last.pt")
    return run_dir / "best.pt"


def one_cycle(optimizer: torch.optim.Optimizer, lr: float, total: int) -> torch.optim.lr_scheduler.OneCycleLR:
    """Warm-up over 10% of the steps, but past step 1: OneCycleLR divides by zero when its warm-up ends on step 0,
    which a tiny run (a user's first few crops, 10 steps) would hit."""
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total,
                                               pct_start=min(0.9, max(0.1, 1.5 / total)))


def log_epoch(metrics: dict[str, Any], path: Path, tracker: Tracker) -> None:
    """An epoch's metrics (with `epoch`, counted from 1) printed, appended to metrics.csv and sent to the tracker."""
    print("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
    write_metrics(path, metrics)
    tracker.log_metrics(metrics, step=metrics["epoch"])  # steps count epochs from 1, as metrics.csv does


def write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(metrics))
        if new:
            writer.writeheader()
        writer.writerow(metrics)


def resume_ocr(run_dir: Path) -> Path:
    last = run_dir / "last.pt"
    if not last.is_file():
        raise DatasetError(f"no checkpoint to resume at {last}")
    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    return train_ocr(load_config(run_dir / "config.yaml"), run_dir, resume=checkpoint)
