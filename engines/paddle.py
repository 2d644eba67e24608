"""PaddleOCR text recognizers exported to ONNX (PP-OCR), read as recognizer engines.

PaddleX exports a recognizer as a folder: `rec.onnx` (or `inference.onnx`) and `inference.yml` beside it, which
holds the model's name, its input shape and colour order, and its character list. That folder is the model's
metadata, so such a file loads like an engine exported by `platestream export`, without a copy of the weights.
The pipeline uses one as the second reader (pipeline.recognize): a recognizer trained on other text, by other
people, whose mistakes are not ours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engines.base import EngineMetadata, ModelKind, sha256_of
from engines.errors import EngineFileError

DESCRIPTION = "inference.yml"
MAX_WIDTH = 640  # widest input the pipeline feeds: 13:1 at height 48, wider than any plate
OTHER_TOKEN = "\ufffc"  # stands for the dictionary's multi-character entries (flags); never a plate character


def describes_paddle_recognizer(path: Path) -> bool:
    return (path.parent / DESCRIPTION).is_file()


def paddle_metadata(path: Path, outputs: int | None) -> EngineMetadata:
    """Metadata of the PaddleOCR recognizer `path` from the inference.yml beside it. `outputs`: the model's number of
    output classes where the graph states it, checked against the character list (blank + characters + space)."""
    description = read_description(path.parent / DESCRIPTION)
    post, shape, color = recognizer_parts(description, path)
    characters = [str(c) for c in post.get("character_dict") or []]
    charset = "".join(c if len(c) == 1 else OTHER_TOKEN for c in characters) + " "  # PaddleOCR adds the space
    if outputs is not None and outputs != len(charset) + 1:
        raise EngineFileError(f"{path}: {outputs} output classes, but {DESCRIPTION} lists {len(characters)} "
                              "characters (+ blank and space)")
    name = str(description.get("Global", {}).get("model_name") or path.stem)
    return EngineMetadata(
        kind=ModelKind.RECOGNIZER, name=name, version="paddleocr", input_height=int(shape[1]),
        input_width=MAX_WIDTH, dynamic_size=True, charset=charset, color=color, output="probabilities",
        source_weights=str(path), source_sha256=sha256_of(path),
    )


def read_description(path: Path) -> dict[str, Any]:
    try:
        # the C loader where PyYAML has one: the character list makes the file 170 kB
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        description = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise EngineFileError(f"{path} is not a readable PaddleOCR model description: {exc}") from exc
    if not isinstance(description, dict):
        raise EngineFileError(f"{path} is not a PaddleOCR model description")
    return description


def recognizer_parts(description: dict[str, Any], path: Path) -> tuple[dict[str, Any], list[int], str]:
    """(PostProcess, image shape C x H x W, colour order) of a CTC text recognizer's description."""
    post = description.get("PostProcess") or {}
    if post.get("name") != "CTCLabelDecode":
        raise EngineFileError(f"{path}: not a CTC text recognizer (PostProcess {post.get('name')!r})")
    ops: dict[str, Any] = {}
    for op in (description.get("PreProcess") or {}).get("transform_ops") or []:
        if isinstance(op, dict):
            ops.update({k: v or {} for k, v in op.items()})
    shape = ops.get("RecResizeImg", {}).get("image_shape") or [3, 48, 320]
    color = str(ops.get("DecodeImage", {}).get("img_mode", "BGR")).lower()
    if color not in ("bgr", "rgb") or len(shape) != 3 or int(shape[0]) != 3:
        raise EngineFileError(f"{path}: unsupported input ({color}, shape {shape})")
    return post, [int(v) for v in shape], color
