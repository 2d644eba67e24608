"""Training package: configs, dataset readers, and a few real training steps on tiny subsets, then export."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engines import ModelKind, create_engine
from pipeline.ctc_model import to_recognizer_input
from tests.conftest import load_frame, ocr_rows
from training.config import load_config, new_run_dir, parse_override
from training.datasets import (
    apply_corrections,
    normalize_plate,
    read_corrections,
    read_endtoend,
    read_ocr_set,
    split_of,
)
from training.errors import ConfigError, DatasetError

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"


def test_overrides_keep_yaml_types() -> None:
    assert parse_override("epochs=3") == ("epochs", 3)
    assert parse_override("extra_data=[a, b]") == ("extra_data", ["a", "b"])
    config = load_config(CONFIGS / "detector.yaml", ["imgsz=320", "cache=false"])
    assert config["imgsz"] == 320 and config["cache"] is False
    with pytest.raises(ConfigError, match="key=value"):
        load_config(CONFIGS / "detector.yaml", ["imgsz"])
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(CONFIGS / "missing.yaml")


def test_split_is_deterministic_and_proportional() -> None:
    names = [f"img{i}.jpg" for i in range(2000)]
    splits = [split_of(n, 0.2) for n in names]
    assert splits == [split_of(n, 0.2) for n in names]
    assert 0.17 < splits.count("val") / len(names) < 0.23


def test_dataset_readers(endtoend_dir: Path, ocr_dir: Path, tmp_path: Path) -> None:
    samples = read_endtoend(endtoend_dir)
    assert len(samples) == 222 and all(s.path.is_file() and s.box.width > 0 for s in samples)
    crops = read_ocr_set(ocr_dir)
    assert len(crops) == 5070 and {c.region[:2] for c in crops} == {"us", "br", "cn"}
    assert normalize_plate("abc-123 ") == "ABC123" and normalize_plate("京A12345") == "A12345"
    (tmp_path / "labels.csv").write_text("file,plate\nx.jpg,ABC\n")
    with pytest.raises(DatasetError, match="missing column"):
        read_endtoend(tmp_path)


def tiny_yolo_folder(source: Path, dest: Path, per_split: int) -> Path:
    for split in ("train", "val"):
        (dest / "images" / split).mkdir(parents=True)
        (dest / "labels" / split).mkdir(parents=True)
        for image in sorted((source / "images" / split).iterdir())[:per_split]:
            (dest / "images" / split / image.name).symlink_to(image)
            shutil.copy(source / "labels" / split / f"{image.stem}.txt", dest / "labels" / split)
    return dest


@pytest.mark.slow
def test_detector_trains_exports_and_runtimes_agree(detect_dir: Path, tmp_path: Path) -> None:
    from training.detector import train_detector
    from training.export import export_detector

    data = tiny_yolo_folder(detect_dir, tmp_path / "tiny", per_split=8)
    overrides = [f"data={data}", "epochs=1", "imgsz=128", "batch=4", "cache=false", "workers=0", "plots=false"]
    run = new_run_dir(tmp_path / "runs", "detector", "test")
    best = train_detector(load_config(CONFIGS / "detector.yaml", overrides), run)
    assert best.is_file() and (run / "config.yaml").is_file() and (run / "train" / "results.csv").is_file()
    assert not list(detect_dir.glob("labels/*.cache")), "training must never write into the dataset folder"

    onnx_path, pt_path = export_detector(best, tmp_path / "engines", imgsz=256)
    batch = np.random.default_rng(0).random((2, 3, 256, 320), dtype=np.float32)
    outputs = []
    for path in (onnx_path, pt_path):
        engine = create_engine(path)
        assert engine.metadata.kind == ModelKind.DETECTOR and engine.metadata.input_height == 256
        outputs.append(engine.infer(batch))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-2, rtol=1e-3)


@pytest.mark.slow
def test_detector_fine_tunes_from_a_weights_file(detect_dir: Path, tmp_path: Path) -> None:
    """`model=<.pt>` starts from those weights: after one tiny epoch at a near-zero learning rate the shipped
    detector still finds the plates, where a network from the model YAML finds none."""
    from platestream.models import SHIPPED_MODELS
    from training.detector import train_detector

    data = tiny_yolo_folder(detect_dir, tmp_path / "tiny", per_split=8)
    overrides = [f"model={SHIPPED_MODELS / 'detector.pt'}", f"data={data}", "epochs=1", "imgsz=416", "batch=4",
                 "cache=false", "workers=0", "plots=false", "optimizer=SGD", "lr0=0.000001", "warmup_epochs=0"]
    run = new_run_dir(tmp_path / "runs", "detector", "finetune")
    train_detector(load_config(CONFIGS / "detector.yaml", overrides), run)
    with (run / "train" / "results.csv").open() as handle:
        last = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(handle)][-1]
    assert float(last["metrics/mAP50(B)"]) > 0.5


@pytest.mark.slow
def test_int8_detector_finds_the_plates_the_fp32_one_finds(endtoend_dir: Path, detect_dir: Path,
                                                            tmp_path: Path) -> None:
    """Static INT8 quantization calibrated on plates-detect photos keeps the detections on real 720p frames."""
    from pipeline.detect import DetectorConfig, detect
    from platestream.models import SHIPPED_MODELS
    from tests.conftest import endtoend_rows
    from training.quantize import quantize_int8

    shutil.copy(SHIPPED_MODELS / "detector.onnx", tmp_path / "detector.onnx")
    int8_path = quantize_int8(tmp_path / "detector.onnx", detect_dir / "images" / "train", count=16, imgsz=640)
    fp32, int8 = create_engine(tmp_path / "detector.onnx", threads=1), create_engine(int8_path, threads=1)
    assert int8.metadata.precision == "int8" and int8.metadata.kind == ModelKind.DETECTOR
    assert int8_path.stat().st_size < 0.8 * (tmp_path / "detector.onnx").stat().st_size
    config = DetectorConfig(imgsz=640)
    confident = 0
    for row in endtoend_rows(6):
        frame = load_frame(endtoend_dir / row["file"])
        [expected], [got] = detect([frame], fp32, config), detect([frame], int8, config)
        # Detections near the confidence threshold may flip either way; clear ones must stay, in place.
        for plate in (d for d in expected if d.confidence >= 0.5):
            confident += 1
            assert max((plate.box.iou(d.box) for d in got), default=0.0) > 0.8
    assert confident >= 4


def tiny_ocr_folder(ocr_dir: Path, dest: Path) -> Path:
    dest.mkdir()
    rows = ocr_rows("br", 16) + ocr_rows("us", 8) + ocr_rows("cn", 8)
    with (dest / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "text", "region"])
        writer.writeheader()
        for i, row in enumerate(rows):
            name = f"{i}{Path(row['file']).suffix}"
            (dest / name).symlink_to(ocr_dir / row["file"])
            writer.writerow({"file": name, "text": row["text"], "region": row["region"]})
    return dest


@pytest.mark.slow
def test_recognizer_fine_tunes_resumes_and_exports(ocr_dir: Path, tmp_path: Path) -> None:
    from training.export import export_recognizer
    from training.ocr import resume_ocr, train_ocr
    from training.quantize import quantize_int8

    data = tiny_ocr_folder(ocr_dir, tmp_path / "crops")
    overrides = [f"data={data}", "epochs=1", "batch=8", "val_fraction=0.3", "synthetic=8",
                 "synthetic_styles=[us, gb]", "reorder=0.3", "respell=0.3"]
    run = new_run_dir(tmp_path / "runs", "ocr", "test")
    best = train_ocr(load_config(CONFIGS / "ocr.yaml", overrides), run)
    assert best.is_file()
    rendered = read_ocr_set(run / "synthetic")
    assert len(rendered) == 8  # rendered plates joined the training set, of the chosen styles only
    assert {s.region for s in rendered} <= {"us", "gb"}
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert "exact_all" in header and "char_accuracy_all" in header and "exact_br" in header

    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("epochs: 1", "epochs: 2"))
    resume_ocr(run)
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # header + epoch 1 + resumed epoch 2
    assert sorted(p.name for p in run.glob("epoch*.pt")) == ["epoch1.pt", "epoch2.pt"]

    onnx_path, pt_path = export_recognizer([best], tmp_path / "engines")
    crops = [load_frame(ocr_dir / r["file"]).image for r in ocr_rows("br", 4)]
    batch = np.stack([to_recognizer_input(c, 64, 256) for c in crops])
    fp32 = create_engine(onnx_path)
    assert fp32.metadata.dynamic_size  # a batch of narrow plates is read at the width it needs
    narrow = fp32.infer(np.stack([to_recognizer_input(c, 64, 128) for c in crops]))
    assert narrow.shape[0] == 4 and narrow.shape[1] < fp32.infer(batch).shape[1]
    assert fp32.metadata.charset == load_config(CONFIGS / "ocr.yaml")["charset"]
    # Both files store weights in FP16, rounded at different points (ONNX after folding BatchNorm into the
    # convolutions), so they agree to FP16 precision, not bit for bit.
    onnx_out, torch_out = fp32.infer(batch), create_engine(pt_path).infer(batch)
    assert np.abs(onnx_out - torch_out).max() < 0.02 * np.abs(onnx_out).max()
    assert (onnx_out.argmax(-1) == torch_out.argmax(-1)).mean() > 0.99
    int8 = create_engine(quantize_int8(onnx_path))
    assert int8.metadata.precision == "int8"
    assert int8.infer(batch).shape == fp32.infer(batch).shape


def test_recognizer_training_can_start_from_a_recognizer_file() -> None:
    """`init=engines/models/recognizer.pt` continues from the shipped recognizer, not from english_g2."""
    import torch

    from platestream.models import SHIPPED_MODELS
    from training.ocr import initial_network

    charset = load_config(CONFIGS / "ocr.yaml")["charset"]
    net = initial_network(charset, str(SHIPPED_MODELS / "recognizer.pt")).eval()
    batch = np.random.default_rng(2).random((2, 1, 64, 256), dtype=np.float32)
    with torch.inference_mode():
        ours = net(torch.from_numpy(batch)).numpy()
    shipped = create_engine(SHIPPED_MODELS / "recognizer.pt").infer(batch)
    assert np.abs(ours - shipped).max() < 0.02 * np.abs(shipped).max()
    with pytest.raises(DatasetError, match="another charset"):
        initial_network(charset[:-1], str(SHIPPED_MODELS / "recognizer.pt"))
    with pytest.raises(DatasetError, match="cannot use"):
        initial_network(charset, str(SHIPPED_MODELS / "detector.onnx"))


def test_yolo_labels_become_pixel_boxes(tmp_path: Path) -> None:
    from training.datasets import yolo_boxes

    label = tmp_path / "a.txt"
    label.write_text("0 0.5 0.5 0.2 0.1\n\n0 0.1 0.2 0.2 0.2\n")
    boxes = yolo_boxes(label, 1000, 500)
    assert [(round(b.x1), round(b.y1), round(b.x2), round(b.y2)) for b in boxes] == [(400, 225, 600, 275),
                                                                                     (0, 50, 200, 150)]
    assert yolo_boxes(tmp_path / "none.txt", 100, 100) == []  # an image without a label file has no plate
    label.write_text("0 0.5 0.5\n")
    with pytest.raises(DatasetError, match=r"a\.txt line 1"):
        yolo_boxes(label, 100, 100)


def test_detector_matching_claims_each_plate_once_per_threshold() -> None:
    from training.evaluate_detect import match

    # two plates; three predictions by falling confidence: the first two both overlap plate 0 best
    iou = np.array([[0.9, 0.8, 0.0], [0.0, 0.55, 0.3]])
    correct = match(iou)
    assert correct[0, :9].all() and not correct[0, 9]  # 0.9 holds at thresholds 0.5 to 0.9, not at 0.95
    assert correct[1, 0] and not correct[1, 2]  # plate 0 taken: it claims plate 1 at 0.5 (0.55), not at 0.6
    assert not correct[2].any()  # 0.3 is below every threshold


def test_training_batches_crops_at_the_width_inference_reads_them(ocr_dir: Path) -> None:
    """A 2:1 US crop is read 128 columns wide at inference; training batches show it the same way, except the
    `full_width` share, which is padded to 256 as fixed-width engines read it."""
    from pipeline.ctc_model import input_width
    from training.ocr import Collate, WidthBatches

    crops = [load_frame(ocr_dir / r["file"]).image for r in ocr_rows("us", 5) + ocr_rows("br", 7)]
    widths = [input_width(c, 64, 256) for c in crops]
    assert len(set(widths)) > 1  # US and Brazilian crops need different widths
    sampler = WidthBatches(widths, batch_size=3, seed=0)
    epoch1, epoch2 = list(sampler), list(sampler)
    for batches in (epoch1, epoch2):
        assert sorted(i for b in batches for i in b) == list(range(len(crops)))  # each crop once per epoch
        assert all(len(b) <= 3 and len({widths[i] for i in b}) == 1 for b in batches)
    assert epoch1 != epoch2  # reshuffled every epoch
    in_order = WidthBatches(widths, batch_size=3, seed=0, shuffle=False)
    assert list(in_order) == list(in_order)

    us = [(c, [1, 2]) for c, w in zip(crops, widths, strict=True) if w == min(widths)]
    images, targets, lengths = Collate(64, 256, full_width=0.0, seed=0)(us)
    assert images.shape == (len(us), 1, 64, min(widths)) and min(widths) < 256
    assert targets.tolist() == [1, 2] * len(us) and lengths.tolist() == [2] * len(us)
    assert Collate(64, 256, full_width=1.0, seed=0)(us)[0].shape[-1] == 256


def test_loader_workers_draw_their_own_augmentations(ocr_dir: Path) -> None:
    """With loader processes (GPU runs), each worker must not replay the others' random augmentations."""
    from training.datasets import OcrSample
    from training.ocr import CropDataset, width_loader

    row = ocr_rows("br", 1)[0]
    samples = [OcrSample(ocr_dir / row["file"], "ABC1234", "br")] * 4
    dataset = CropDataset(samples, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", True, seed=0)
    config = {"height": 64, "width": 256, "workers": 2}
    images = [batch[0] for batch in width_loader(dataset, config, batch=1, full_width=1.0, seed=0)]
    assert len(images) == 4
    assert all(not torch_equal(a, b) for k, a in enumerate(images) for b in images[k + 1 :])


def torch_equal(a: object, b: object) -> bool:
    import torch

    assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
    return bool(torch.equal(a, b))


def test_learning_rate_schedule_runs_for_runs_of_any_length() -> None:
    import torch

    from training.ocr import one_cycle

    for total in [*range(1, 40), 100]:  # 10 steps used to end the warm-up on step 0: ZeroDivisionError
        optimizer = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=0.1)
        scheduler = one_cycle(optimizer, 0.1, total)
        rates = []
        for _ in range(total):
            optimizer.step()
            rates.append(scheduler.get_last_lr()[0])
            scheduler.step()
        assert max(rates) <= 0.1 + 1e-9
    assert rates.index(max(rates)) == 9  # a real run keeps its warm-up over the first 10% of the steps


def test_export_averages_several_recognizers(tmp_path: Path) -> None:
    """`export recognizer A B`: the engine holds the parameter-wise mean and names both sources."""
    import torch

    from platestream.models import SHIPPED_MODELS
    from training.export import average_recognizers, export_recognizer, load_recognizer_weights

    shipped = SHIPPED_MODELS / "recognizer.pt"
    net, charset = load_recognizer_weights(shipped)
    tripled = {k: v * 3 if v.is_floating_point() else v for k, v in net.state_dict().items()}
    torch.save({"state_dict": tripled, "charset": charset}, tmp_path / "tripled.pt")
    mean, mean_charset = average_recognizers([shipped, tmp_path / "tripled.pt"])
    assert mean_charset == charset
    for key, value in mean.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, net.state_dict()[key] * 2)
    onnx_path, _ = export_recognizer([shipped, tmp_path / "tripled.pt"], tmp_path / "engines")
    meta = create_engine(onnx_path).metadata
    assert meta.source_weights == "mean of recognizer.pt tripled.pt" and meta.charset == charset
    torch.save({"state_dict": tripled, "charset": charset[:-1] + "#"}, tmp_path / "other.pt")  # same size, not same
    with pytest.raises(DatasetError, match="different charsets"):
        average_recognizers([shipped, tmp_path / "other.pt"])


def test_camera_view_makes_a_close_up_look_cut_from_a_street_frame(ocr_dir: Path) -> None:
    from training.augment import camera_view

    crop = load_frame(ocr_dir / ocr_rows("us", 1)[0]["file"]).image
    out = camera_view(crop, np.random.default_rng(0), min_height=20, max_height=20)
    assert out.dtype == np.uint8 and out.shape[0] >= crop.shape[0] and out.shape[1] >= crop.shape[1]
    # Scaled to a 20 px plate and back up: the fine detail (high-frequency energy) is gone.
    def detail(image: np.ndarray) -> float:
        return float(np.abs(np.diff(image.astype(np.float32), axis=1)).mean())
    assert detail(out) < 0.7 * detail(crop)
    np.testing.assert_array_equal(out, camera_view(crop, np.random.default_rng(0), 20, 20))


def test_fp16_storage_halves_onnx_files_and_keeps_outputs(tmp_path: Path) -> None:
    import onnx

    from platestream.models import SHIPPED_MODELS
    from training.compact import compact_onnx, expand_onnx

    expanded = expand_onnx(SHIPPED_MODELS / "recognizer.onnx", tmp_path / "fp32.onnx")
    compacted = compact_onnx(expanded, tmp_path / "fp16w.onnx")
    assert compacted.stat().st_size < 0.6 * expanded.stat().st_size
    assert {p.key for p in onnx.load(str(compacted)).metadata_props} >= {"platestream"}
    batch = np.random.default_rng(1).random((2, 1, 64, 256), dtype=np.float32)
    full, small = create_engine(expanded).infer(batch), create_engine(compacted).infer(batch)
    np.testing.assert_allclose(full, small, atol=0.05)
    assert (full.argmax(-1) == small.argmax(-1)).mean() > 0.99


def test_model_card_records_runs_lineage_scores_and_files(tmp_path: Path) -> None:
    from training.model_card import write_model_card

    models, det_run, ocr_run = tmp_path / "models", tmp_path / "det", tmp_path / "ocr"
    (det_run / "train").mkdir(parents=True)
    ocr_run.mkdir()
    models.mkdir()
    (models / "detector.onnx").write_bytes(b"x" * 2048)
    (det_run / "config.yaml").write_text("model: engines/models/detector.pt\nimgsz: 512\n")
    (det_run / "train" / "results.csv").write_text("  epoch,  metrics/mAP50(B)\n1, 0.93\n2, 0.955\n")
    (ocr_run / "config.yaml").write_text("init: engines/models/recognizer.pt\ncamera: 0.5\n")
    (ocr_run / "metrics.csv").write_text("epoch,loss,exact_all,exact_us\n1,0.5,0.95,0.9\n")
    report = tmp_path / "eval.json"
    report.write_text('{"images": 222, "exact": 0.5}')
    card = write_model_card(models, det_run, ocr_run, {"End to end": report}, notes="targets...",
                            history={"detector": "Started from run A.\n"}).read_text()
    assert "| detector.onnx | 0.0 MiB |" in card and "imgsz: 512" in card and "camera: 0.5" in card
    assert "| 2 |  |  | 0.955 |  |" in card and "| 1 | 0.95 | 0.9 |" in card
    assert "Started from run A." in card and '"exact": 0.5' in card and "targets..." in card


def test_label_corrections_fix_named_labels_only(
    ocr_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from platestream.cli import main

    shipped = read_corrections(Path("training/corrections/plates-ocr.csv"))
    crops = read_ocr_set(ocr_dir)
    fixed = apply_corrections(ocr_dir, crops, shipped)
    changed = {a.path.name: b.text for a, b in zip(crops, fixed, strict=True) if a.text != b.text}
    assert len(changed) == len(shipped) == 57  # every correction still names a label plates-ocr gives
    assert changed["02008_DPN6388.jpg"] == "IPN6388" and changed["02150_QNV2692.jpg"] == "INV2692"
    assert sum(split_of(n) == "val" for n in changed) == 17  # the rest fix training crops

    folder = tiny_ocr_folder(ocr_dir, tmp_path / "crops")
    first = read_ocr_set(folder)[0]
    stale = tmp_path / "fixes.csv"
    stale.write_text(f"file,label,text\n{first.path.name},{first.text},X1\n{first.path.name},NOT-THE-LABEL,Y2\n")
    assert [s.text for s in apply_corrections(folder, [first], read_corrections(stale))] == ["X1"]
    assert main(["eval-ocr", str(folder), "--split", "all", "--corrections", str(stale),
                 "--json", str(tmp_path / "ocr.json")]) == 0
    assert "1 label(s) corrected" in capsys.readouterr().out
    assert json.loads((tmp_path / "ocr.json").read_text())["crops"] == 32
    capsys.readouterr()
    details = tmp_path / "crops.csv"
    assert main(["eval-ocr", str(folder), "--split", "all", "--details", str(details)]) == 0
    rows = list(csv.DictReader(details.open()))
    assert len(rows) == 32 and set(rows[0]) == {"file", "label", "predicted", "region", "exact"}
    exact = sum(r["exact"] == "True" for r in rows)
    assert main(["eval-ocr", str(folder), "--split", "all", "--baseline", str(details)]) == 0
    assert f"on 32 crops: exact {exact} -> {exact}; 0 newly right, 0 newly wrong" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_text("file,text\nx.jpg,ABC\n")
    assert main(["eval-ocr", str(folder), "--corrections", str(tmp_path / "bad.csv")]) == 2
    assert "missing column(s) label" in capsys.readouterr().err
