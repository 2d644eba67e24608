"""Export trained models to engine files (ONNX + PyTorch checkpoint) with EngineMetadata inside."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from engines.base import METADATA_KEY, EngineMetadata, ModelKind, sha256_of
from engines.networks import ENGLISH_G2_CHARSET, RecognizerNet, english_g2_weights, load_english_g2
from engines.ort_engine import write_onnx_metadata
from training.compact import MIN_ELEMENTS, compact_onnx
from training.errors import DatasetError

RECOGNIZER_HEIGHT, RECOGNIZER_WIDTH = 64, 256  # english_g2 reads 64 px high lines; plates are <= 4:1


def today() -> str:
    return datetime.now(UTC).strftime("%Y.%m.%d")


def average_recognizers(paths: Sequence[Path]) -> tuple[RecognizerNet, str]:
    """The parameter-wise mean of recognizers fine-tuned from one another (e.g. the last epochs of a run).

    End-to-end reads swing by several points from one epoch to the next while held-out exact barely moves;
    the mean of a run's last epochs reads about as well as its best epoch, without having to pick it (run wb1:
    epochs 2-4 read 0.703, 0.698, 0.703 of endtoend-us exactly, their mean 0.712). It costs nothing at inference.
    """
    loaded = [load_recognizer_weights(p) for p in paths]
    charsets = {charset for _, charset in loaded}
    if len(charsets) != 1:
        raise DatasetError("cannot average recognizers trained for different charsets")
    charset = charsets.pop()
    states = [net.state_dict() for net, _ in loaded]
    mean = {k: sum(s[k] for s in states) / len(states) if v.is_floating_point() else v for k, v in states[0].items()}
    return recognizer_net(mean, charset), charset


def recognizer_source(weights: Sequence[Path]) -> tuple[RecognizerNet, str, str, str]:
    """(net, charset, source name, source sha256) from no file (english_g2), one file, or several averaged."""
    if not weights:
        source = english_g2_weights()
        return load_english_g2(), ENGLISH_G2_CHARSET, source.name, sha256_of(source)
    if len(weights) == 1:
        net, charset = load_recognizer_weights(weights[0])
        return net, charset, weights[0].name, sha256_of(weights[0])
    net, charset = average_recognizers(weights)
    digest = hashlib.sha256("".join(sha256_of(p) for p in weights).encode()).hexdigest()
    return net, charset, "mean of " + " ".join(p.name for p in weights), digest


def recognizer_net(state_dict: dict[str, torch.Tensor], charset: str) -> RecognizerNet:
    """A RecognizerNet for `charset` holding these weights, FP32 whatever they were stored in."""
    net = RecognizerNet(num_class=len(charset) + 1)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()})
    return net.eval()


def load_recognizer_weights(path: Path) -> tuple[RecognizerNet, str]:
    """Any recognizer weights file: a `train ocr` checkpoint (charset beside the weights) or an exported engine
    file (charset in its metadata, weights stored FP16)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        charset = checkpoint.get("charset") or EngineMetadata.from_json(checkpoint[METADATA_KEY]).charset
        return recognizer_net(checkpoint["state_dict"], charset), charset
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, EOFError, AttributeError,
            pickle.UnpicklingError) as exc:
        raise DatasetError(f"cannot use {path} as recognizer weights: {exc}") from exc


def export_recognizer(weights: Sequence[Path], out_dir: Path, name: str = "recognizer",
                      training: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Engine files from english_g2 (no weights), a checkpoint, or the mean of several (average_recognizers)."""
    net, charset, source_name, source_sha = recognizer_source(weights)
    metadata = EngineMetadata(
        kind=ModelKind.RECOGNIZER, name=name, version=today(), input_height=RECOGNIZER_HEIGHT,
        input_width=RECOGNIZER_WIDTH, dynamic_size=True, charset=charset, source_weights=source_name,
        source_sha256=source_sha, training=training or {},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    example = torch.zeros(1, 1, RECOGNIZER_HEIGHT, RECOGNIZER_WIDTH)
    torch.onnx.export(
        net, (example,), str(onnx_path), input_names=["images"], output_names=["logits"],
        # Free width: batches of narrow plates are read at the width they need (input_width is the most).
        dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "steps"}}, opset_version=17,
        dynamo=False,
    )
    write_onnx_metadata(onnx_path, metadata)
    compact_onnx(onnx_path)
    return onnx_path, save_torch_engine(net, metadata, out_dir / f"{name}.pt")


def save_torch_engine(net: torch.nn.Module, metadata: EngineMetadata, path: Path) -> Path:
    """The PyTorch engine file of a recognizer or glyph classifier. FP16 storage of the large tensors halves the
    file, as compact_onnx does for ONNX (small ones such as BatchNorm statistics stay FP32); the PyTorch engine
    copies them into its FP32 (or FP16 on CUDA) net."""
    half = {k: v.half() if v.is_floating_point() and v.numel() >= MIN_ELEMENTS else v
            for k, v in net.state_dict().items()}
    torch.save({"state_dict": half, METADATA_KEY: metadata.to_json()}, path)
    return path


def export_glyphs(net: torch.nn.Module, charset: str, out_dir: Path, source: Path, name: str = "glyphs",
                  training: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Engine files of a `train glyphs` classifier (pipeline.glyphs): ONNX and PyTorch, metadata inside."""
    from pipeline.glyphs import GLYPH_HEIGHT, GLYPH_WIDTH

    metadata = EngineMetadata(
        kind=ModelKind.GLYPHS, name=name, version=today(), input_height=GLYPH_HEIGHT, input_width=GLYPH_WIDTH,
        charset=charset, source_weights=source.name, source_sha256=sha256_of(source), training=training or {},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    torch.onnx.export(
        net.eval(), (torch.zeros(1, 1, GLYPH_HEIGHT, GLYPH_WIDTH),), str(onnx_path), input_names=["images"],
        output_names=["logits"], dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
        dynamo=False,
    )
    write_onnx_metadata(onnx_path, metadata)
    compact_onnx(onnx_path)
    return onnx_path, save_torch_engine(net, metadata, out_dir / f"{name}.pt")


def detector_stride(model: Any) -> int:
    return int(model.model.stride.max())


def export_detector(best_pt: Path, out_dir: Path, imgsz: int = 640, name: str = "detector",
                    training: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """ultralytics ONNX export with dynamic batch and size; our metadata is added beside ultralytics' own."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    if best_pt.suffix != ".pt" or not best_pt.is_file():
        raise DatasetError(f"{best_pt}: not an ultralytics .pt checkpoint "
                           "(e.g. runs/detector/<run>/train/weights/best.pt)")
    try:
        model = YOLO(str(best_pt))
    except Exception as exc:  # ultralytics raises anything from FileNotFoundError to pickle errors for a bad file
        raise DatasetError(f"cannot use {best_pt} as detector weights: {exc}") from exc
    exported = Path(model.export(format="onnx", imgsz=imgsz, dynamic=True, simplify=True, opset=17))
    metadata = EngineMetadata(
        kind=ModelKind.DETECTOR, name=name, version=today(), input_height=imgsz, input_width=imgsz,
        dynamic_size=True, stride=detector_stride(model), source_weights=best_pt.name,
        source_sha256=sha256_of(best_pt), training=training or {},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    shutil.move(exported, onnx_path)
    write_onnx_metadata(onnx_path, metadata)
    compact_onnx(onnx_path)
    checkpoint = torch.load(best_pt, map_location="cpu", weights_only=False)
    checkpoint = {"model": checkpoint["ema"] or checkpoint["model"], METADATA_KEY: metadata.to_json()}
    pt_path = out_dir / f"{name}.pt"
    torch.save(checkpoint, pt_path)
    return onnx_path, pt_path
