"""Train the YOLO plate detector with ultralytics, from a model YAML (no pretrained weights exist offline)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from training.config import load_config, save_config
from training.errors import DatasetError
from training.tracking import Tracker, tracked

# Config keys that are ours; everything else is handed to ultralytics' trainer unchanged.
OWN_KEYS = {"model", "data", "extra_data", "device", "tracking"}
# ultralytics' own MLflow and W&B loggers: its settings switch MLflow on by default as soon as mlflow is installed,
# which would log every run a second time into ./mlflow.db of the working directory. training.tracking is the one path.
BUILTIN_TRACKERS = {"ultralytics.utils.callbacks.mlflow", "ultralytics.utils.callbacks.wb"}


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def torch_device(device: str) -> str:
    """`device` as PyTorch names it: `auto` resolved, and ultralytics' "0" written `cuda:0`."""
    resolved = resolve_device(device)
    return "cuda:0" if resolved == "0" else resolved


def yolo_folder_splits(folder: Path) -> dict[str, Path]:
    splits = {split: folder / "images" / split for split in ("train", "val")}
    missing = [str(p) for p in splits.values() if not p.is_dir()]
    if missing:
        raise DatasetError(f"{folder} is not a YOLO folder: missing {', '.join(missing)}")
    return splits


def stage_yolo_folder(folder: Path, dest: Path) -> None:
    """Link images and copy labels into the run, so ultralytics writes its label caches there.

    Datasets are read-only inputs (../shared must never be written to); ultralytics derives each label
    path from its image path and puts `labels/<split>.cache` beside the labels.
    """
    for split, images in yolo_folder_splits(folder).items():
        (dest / "images" / split).mkdir(parents=True, exist_ok=True)
        (dest / "labels" / split).mkdir(parents=True, exist_ok=True)
        for image in images.iterdir():
            label = folder / "labels" / split / f"{image.stem}.txt"
            prefix = f"{folder.name}-" if folder.name != dest.name else ""
            (dest / "images" / split / f"{prefix}{image.name}").symlink_to(image.resolve())
            if label.is_file():
                (dest / "labels" / split / f"{prefix}{image.stem}.txt").write_bytes(label.read_bytes())


def write_data_yaml(config: dict[str, Any], run_dir: Path) -> Path:
    """Stage the main folder and any extra ones into run_dir/data and describe it in one data YAML."""
    staged = run_dir / "data"
    for folder in [Path(config["data"]), *(Path(p) for p in config.get("extra_data") or [])]:
        stage_yolo_folder(folder.resolve(), staged)
    data = {"path": str(staged.resolve()), "train": "images/train", "val": "images/val", "names": {0: "plate"}}
    path = run_dir / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def train_detector(config: dict[str, Any], run_dir: Path) -> Path:
    """Train into run_dir/train and return the best weights."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # no hub or update checks: this runs without a network
    from ultralytics import YOLO

    save_config(config, run_dir)
    data_yaml = write_data_yaml(config, run_dir)
    trainer_args = {k: v for k, v in config.items() if k not in OWN_KEYS}
    # A model YAML starts from random weights; a .pt (say, the shipped detector) is fine-tuned from its weights.
    trainer_args.setdefault("pretrained", str(config["model"]).endswith(".pt"))
    model = YOLO(config["model"])
    with tracked(config, run_dir, files=[run_dir / "train" / "results.csv", run_dir / "config.yaml"]) as tracker:
        add_tracking_callbacks(model, tracker)
        model.train(
            data=str(data_yaml),
            device=resolve_device(str(config.get("device", "auto"))),
            project=str(run_dir.resolve()),
            name="train",
            exist_ok=True,
            amp=False,  # the AMP check downloads a model; FP16 training gains little for an 'n' model anyway
            **trainer_args,
        )
    return run_dir / "train" / "weights" / "best.pt"


def add_tracking_callbacks(model: Any, tracker: Tracker) -> None:
    """Send each epoch's losses, validation metrics and learning rates to the tracker, and nowhere else."""

    def drop_builtin_trackers(trainer: Any) -> None:
        # Runs right after the trainer attached its integrations and before any of them logs.
        for event, fns in trainer.callbacks.items():
            trainer.callbacks[event] = [f for f in fns if getattr(f, "__module__", "") not in BUILTIN_TRACKERS]

    def log_epoch(trainer: Any) -> None:
        losses = trainer.label_loss_items(trainer.tloss, prefix="train")
        tracker.log_metrics({**losses, **trainer.metrics, **trainer.lr}, step=trainer.epoch + 1)  # as results.csv

    model.add_callback("on_pretrain_routine_start", drop_builtin_trackers)
    model.add_callback("on_fit_epoch_end", log_epoch)


def resume_detector(run_dir: Path) -> Path:
    """Continue an interrupted run from its last checkpoint (ultralytics restores epoch, optimizer, EMA)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    last = run_dir / "train" / "weights" / "last.pt"
    if not last.is_file():
        raise DatasetError(f"no checkpoint to resume at {last}")
    config_path = run_dir / "config.yaml"
    config = load_config(config_path) if config_path.is_file() else {}
    model = YOLO(str(last))
    with tracked(config, run_dir, files=[run_dir / "train" / "results.csv", config_path]) as tracker:
        add_tracking_callbacks(model, tracker)
        model.train(resume=True)
    return run_dir / "train" / "weights" / "best.pt"
