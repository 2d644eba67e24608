"""`platestream recognize` and `platestream eval` run as a user runs them: a subprocess, real files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.formats import Template
from tests.conftest import ROOT, endtoend_rows

EVAL_KEYS = {
    "images", "detection_recall", "exact", "top5", "char_accuracy", "false_positives_per_image",
    "ms_per_image_p50", "ms_per_image_p95", "images_per_second",
}


def platestream(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platestream.cli", *map(str, args)],
        capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})},
    )


@pytest.fixture
def bad_files(tmp_path: Path, endtoend_dir: Path) -> dict[str, Path]:
    good = (endtoend_dir / endtoend_rows(1)[0]["file"]).read_bytes()
    files = {
        "empty_file": tmp_path / "empty.jpg",
        "not_an_image": tmp_path / "notes.jpg",
        "truncated_image": tmp_path / "cut.jpg",
        "unreadable_file": tmp_path / "missing.jpg",
    }
    files["empty_file"].write_bytes(b"")
    files["not_an_image"].write_text("this is text, not a JPEG")
    files["truncated_image"].write_bytes(good[: len(good) // 2])
    return files


def test_recognize_json_per_image_and_bad_files_do_not_stop_the_batch(
    endtoend_dir: Path, bad_files: dict[str, Path]
) -> None:
    images = [endtoend_dir / r["file"] for r in endtoend_rows(3)]
    args = [images[0], *bad_files.values(), *images[1:]]
    done = platestream("recognize", "--json", *args)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(a) for a in args]
    good = [lines[0], *lines[-2:]]
    for result in good:
        assert result["data_type"] == "alpr_results" and result["img_width"] > 0
        assert result["processing_time_ms"] > 0
        for plate in result["results"]:
            assert 0 <= plate["confidence"] <= 100 and plate["plate"]
            assert set(plate["box"]) == {"x", "y", "width", "height"}
            assert plate["candidates"][0]["plate"] == plate["plate"]
    errors = {line["error"]["code"]: line for line in lines if "error" in line}
    assert set(errors) == set(bad_files)
    assert "4 of 7 file(s) could not be read" in done.stderr


def test_strict_exits_non_zero_on_a_bad_file(endtoend_dir: Path, bad_files: dict[str, Path]) -> None:
    image = endtoend_dir / endtoend_rows(1)[0]["file"]
    assert platestream("recognize", "--strict", image).returncode == 0
    done = platestream("recognize", "--strict", image, bad_files["not_an_image"])
    assert done.returncode == 1
    assert "not a recognised image format" in done.stdout


def test_pixel_limit_is_configurable(endtoend_dir: Path) -> None:
    image = endtoend_dir / endtoend_rows(1)[0]["file"]
    done = platestream("recognize", "--json", image, env={"PLATESTREAM_MAX_PIXELS": "1000"})
    assert json.loads(done.stdout)["error"]["code"] == "image_too_large"
    done = platestream("recognize", "--json", "--max-pixels", "1000", image)
    assert json.loads(done.stdout)["error"]["code"] == "image_too_large"


def test_bad_engine_or_region_is_a_usage_error(tmp_path: Path, endtoend_dir: Path) -> None:
    image = endtoend_dir / endtoend_rows(1)[0]["file"]
    done = platestream("recognize", image, "--detector", tmp_path / "none.onnx")
    assert done.returncode == 2 and "does not exist" in done.stderr
    done = platestream("recognize", image, "--region", "atlantis")
    assert done.returncode == 2 and "unknown region" in done.stderr
    done = platestream("recognize", image, "--views", "plain,sharpen")
    assert done.returncode == 2 and "read_views" in done.stderr and "'wide'" in done.stderr
    done = platestream("recognize", image, "--device", "tpu")  # was taken, and the CPU used
    assert done.returncode == 2 and "invalid settings: device: String should match pattern" in done.stderr
    (tmp_path / "labels.csv").write_text("file,text,region\n")
    done = platestream("eval-ocr", tmp_path, "--recognizer", ROOT / "engines" / "models" / "detector.onnx")
    assert done.returncode == 2 and "expected a recognizer engine, got a detector" in done.stderr
    done = platestream("recognize", image, "--top-n", "0")  # one line naming the setting and the value
    assert done.returncode == 2 and done.stderr.strip().endswith(
        "invalid settings: top_n: Input should be greater than or equal to 1 (got 0)")


def test_eval_writes_exactly_the_documented_keys(tmp_path: Path, endtoend_dir: Path) -> None:
    rows = endtoend_rows(222)[::37]
    folder = tmp_path / "set"
    folder.mkdir()
    lines = ["file,x,y,w,h,plate"]
    for row in rows:
        (folder / row["file"]).symlink_to(endtoend_dir / row["file"])
        lines.append(",".join(row[k] for k in ("file", "x", "y", "w", "h", "plate")))
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    out, details = tmp_path / "out.json", tmp_path / "details.csv"
    done = platestream("eval", folder, "--json", out, "--details", details)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert set(report) == EVAL_KEYS
    assert report["images"] == len(rows)
    for key in ("detection_recall", "exact", "top5", "char_accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert report["exact"] <= report["top5"]
    assert 0 < report["ms_per_image_p50"] <= report["ms_per_image_p95"]
    assert report["images_per_second"] > 0
    assert "detection recall" in done.stdout and "eval" in done.stderr  # table on stdout, progress bar on stderr
    assert len(details.read_text().splitlines()) == len(rows) + 1

    # the same engines against their own details: nothing changed, which is no evidence of anything
    again = platestream("eval", folder, "--baseline", details)
    assert again.returncode == 0, again.stderr
    exact = round(report["exact"] * len(rows))
    assert f"on {len(rows)} images: exact {exact} -> {exact}; 0 newly right, 0 newly wrong; McNemar p = 1.000" \
        in again.stdout
    (tmp_path / "other.csv").write_text("file,label,exact\nnot-here.jpg,ABC,True\n")
    unrelated = platestream("eval", folder, "--baseline", tmp_path / "other.csv")
    assert unrelated.returncode == 2 and "no image in common" in unrelated.stderr

    # --details may overwrite the baseline it is compared with: the baseline is read before the run
    rows = list(csv.DictReader(details.open()))
    with (tmp_path / "same.csv").open("w", newline="") as handle:  # as if nothing had been read exactly
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "exact": "False"} for row in rows)
    same = platestream("eval", folder, "--baseline", tmp_path / "same.csv", "--details", tmp_path / "same.csv")
    assert same.returncode == 0, same.stderr
    assert f"exact 0 -> {exact}; {exact} newly right, 0 newly wrong" in same.stdout
    rewritten = list(csv.DictReader((tmp_path / "same.csv").open()))
    assert [r["exact"] for r in rewritten] == [r["exact"] for r in rows]  # this run's rows
    # a baseline that cannot be used fails before the run, which then writes nothing
    (tmp_path / "bad.csv").write_text("file,label\nx.jpg,ABC\n")
    bad = platestream("eval", folder, "--baseline", tmp_path / "bad.csv", "--details", tmp_path / "new.csv")
    assert bad.returncode == 2 and "missing column(s) exact" in bad.stderr and not (tmp_path / "new.csv").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["eval", "{d}", "--limit", "0"], "argument --limit: 0 is not a positive number"),
    (["eval", "{d}", "--limit", "-3"], "argument --limit: -3 is not a positive number"),
    (["eval", "{d}", "--details", "/proc/none/rows.csv"], "argument --details: cannot write /proc/none/rows.csv"),
    (["eval", "{d}", "--json", "{tmp}"], "is a folder, not a file"),
    (["eval-ocr", "{d}", "--val-fraction", "2"], "argument --val-fraction: 2.0 is not between 0 and 1"),
    (["pseudo-label", "{d}", "{tmp}/out", "--min-confidence", "200"], "200.0 is not between 0 and 100"),
    (["bench", "core", "{d}", "--json", "/proc/none/bench.json"], "argument --json: cannot write"),
    (["bench", "core", "{d}", "--threads", "1,-1"], "argument --threads: -1 is not 0 or more"),
    (["bench", "core", "{d}", "--engines", "torch,tensorflow"], "'tensorflow' is not one of onnxruntime,"),
    (["bench", "service", "--fps", "0"], "argument --fps: 0.0 is not a positive number"),
    (["bench", "service", "--seconds", "-1"], "argument --seconds: -1.0 is not a positive number"),
    (["run", "--workers", "0"], "argument --workers: 0 is not a positive number"),
    (["worker", "--metrics-port", "99999"], "99999 is not a TCP port"),
    (["export", "detector", "best.pt", "--imgsz", "100"], "argument --imgsz: 100 is not a multiple of 32"),
    (["compile", "x.onnx", "--max-batch", "0"], "argument --max-batch: 0 is not a positive number"),
    (["export", "recognizer", "--int8", "--int8-tolerance", "2"], "--int8-tolerance: 2.0 is not between 0 and 1"),
    (["export", "recognizer", "--int8", "--int8-limit", "0"], "argument --int8-limit: 0 is not a positive number"),
    (["export", "recognizer", "--out", str(ROOT / "README.md")], "README.md is a file, not a folder"),
    (["pseudo-label", "{d}", str(ROOT / "README.md")], "README.md is a file, not a folder"),
])
def test_bad_arguments_fail_before_any_work(argv: list[str], message: str, tmp_path: Path, endtoend_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Values that used to crash after the whole run (an unwritable --details), count from the end (--limit -3)
    or be taken as given (a fraction of 2) are usage errors when parsed."""
    from platestream.cli import main

    with pytest.raises(SystemExit) as done:
        main([a.format(d=endtoend_dir, tmp=tmp_path) for a in argv])
    assert done.value.code == 2 and message in capsys.readouterr().err


def test_export_detector_names_a_bad_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from platestream.cli import main

    (tmp_path / "notes.pt").write_text("not a checkpoint")
    for weights, message in ((ROOT / "README.md", "not an ultralytics .pt checkpoint"),
                             (tmp_path / "missing.pt", "not an ultralytics .pt checkpoint"),
                             (tmp_path / "notes.pt", "cannot use")):
        assert main(["export", "detector", str(weights), "--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_eval_corrections_score_the_plate_the_photo_shows(tmp_path: Path, endtoend_dir: Path) -> None:
    """endtoend-us labels `wts-lg-000159.jpg` 59E21P1; the photo shows 59321P1, which the engines read. The
    shipped correction still names a label the set gives, and `eval --corrections` scores against it."""
    from training.datasets import apply_endtoend_corrections, read_corrections, read_endtoend

    fixes = ROOT / "training" / "corrections" / "endtoend-us.csv"
    shipped = read_corrections(fixes)
    samples = read_endtoend(endtoend_dir)
    fixed = apply_endtoend_corrections(endtoend_dir, samples, shipped)
    changed = {a.path.name: b.plate for a, b in zip(samples, fixed, strict=True) if a.plate != b.plate}
    assert changed == {"wts-lg-000159.jpg": "59321P1"} and len(shipped) == 1

    row = next(r for r in endtoend_rows() if r["file"] == "wts-lg-000159.jpg")
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / row["file"]).symlink_to(endtoend_dir / row["file"])
    (folder / "labels.csv").write_text("file,x,y,w,h,plate\n" + ",".join(row[k] for k in ("file", "x", "y", "w", "h",
                                                                                        "plate")) + "\n")
    as_given, corrected = tmp_path / "given.json", tmp_path / "corrected.json"
    assert platestream("eval", folder, "--json", as_given).returncode == 0
    done = platestream("eval", folder, "--json", corrected, "--corrections", fixes)
    assert done.returncode == 0, done.stderr
    assert "1 label(s) corrected" in done.stdout
    assert json.loads(as_given.read_text())["exact"] == 0.0 and json.loads(corrected.read_text())["exact"] == 1.0
    (tmp_path / "bad.csv").write_text("file,text\nx.jpg,ABC\n")
    bad = platestream("eval", folder, "--corrections", tmp_path / "bad.csv")
    assert bad.returncode == 2 and "missing column(s) label" in bad.stderr


def test_eval_detect_scores_the_shipped_detector_like_ultralytics(tmp_path: Path, detect_dir: Path) -> None:
    """mAP from the engine the product runs, on a YOLO folder: on these 24 validation photos it must match what
    ultralytics' own validator gives for the same weights at the same size (the .pt detector at 416, one pass)."""
    from ultralytics import YOLO

    folder = tmp_path / "set"
    for kind in ("images", "labels"):
        (folder / kind / "val").mkdir(parents=True)
    images = sorted((detect_dir / "images" / "val").iterdir())[::15]
    for image in images:
        (folder / "images" / "val" / image.name).symlink_to(image)
        label = detect_dir / "labels" / "val" / f"{image.stem}.txt"
        if label.is_file():
            (folder / "labels" / "val" / label.name).write_bytes(label.read_bytes())
    out = tmp_path / "detect.json"  # a folder with only a val split is enough
    weights = ROOT / "engines" / "models" / "detector.pt"
    done = platestream("eval-detect", folder, "--json", out, "--detector", weights, "--imgsz", "416",
                       "--extra-sizes", "")
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    plates = sum(1 for label in (folder / "labels" / "val").iterdir() for line in label.read_text().splitlines()
                 if line.strip())
    assert report["images"] == len(images) and report["plates"] == plates > 0
    (tmp_path / "data.yaml").write_text(f"path: {folder}\ntrain: images/train\nval: images/val\nnames: {{0: plate}}\n")
    theirs = YOLO(str(weights)).val(data=str(tmp_path / "data.yaml"), imgsz=416, batch=8, device="cpu", plots=False,
                                    project=str(tmp_path / "val"), verbose=False)
    assert abs(report["map50"] - theirs.box.map50) < 0.03, (report, theirs.box.map50)
    assert report["map50"] > 0.8 and report["map50_95"] < report["map50"]
    assert 0 < report["precision"] <= 1 and 0 < report["recall"] <= 1


def test_eval_detect_on_a_folder_without_yolo_layout_is_a_usage_error(tmp_path: Path) -> None:
    done = platestream("eval-detect", tmp_path)
    assert done.returncode == 2 and "is not a YOLO folder" in done.stderr


def test_eval_without_labels_is_a_usage_error(tmp_path: Path) -> None:
    done = platestream("eval", tmp_path)
    assert done.returncode == 2 and "labels.csv not found" in done.stderr


def test_template_policy_drop_reports_only_plates_fitting_a_template(endtoend_dir: Path) -> None:
    images = [endtoend_dir / r["file"] for r in endtoend_rows(8)]

    def plates(policy: str, regions: str) -> list[str]:
        done = platestream("recognize", "--json", *images,
                           env={"PLATESTREAM_TEMPLATE_POLICY": policy, "PLATESTREAM_REGIONS": regions})
        assert done.returncode == 0, done.stderr
        return [p["plate"] for line in done.stdout.splitlines() for p in json.loads(line)["results"]]

    uk = Template("LLNNLLL")
    assert all(uk.fit(p) == (p, 0) for p in plates("drop", "gb"))  # US photos: UK-shaped reads only, if any
    # With `generic` alongside, every length passes, so only the policy can remove the US-shaped reads.
    kept, dropped = plates("off", "gb,generic"), plates("drop", "gb,generic")
    assert any(uk.fit(p) is None for p in kept), kept
    assert dropped == [p for p in kept if uk.fit(p) is not None]


def test_bad_regions_file_or_policy_is_a_usage_error(tmp_path: Path, endtoend_dir: Path) -> None:
    image = endtoend_dir / endtoend_rows(1)[0]["file"]
    bad = tmp_path / "regions.yaml"
    bad.write_text("regions: [unclosed")
    done = platestream("recognize", image, env={"PLATESTREAM_REGIONS_FILE": str(bad)})
    assert done.returncode == 2 and "cannot read regions file" in done.stderr
    done = platestream("run", env={"PLATESTREAM_REGIONS_FILE": str(bad), "PLATESTREAM_DATA_DIR": str(tmp_path)})
    assert done.returncode == 2 and "cannot read regions file" in done.stderr  # a service stops at start-up
    done = platestream("recognize", image, env={"PLATESTREAM_TEMPLATE_POLICY": "sometimes"})
    assert done.returncode == 2 and "template_policy" in done.stderr


def test_eval_ocr_scores_one_country_read_with_its_region(tmp_path: Path, ocr_dir: Path) -> None:
    """`--only us --region us`: a US operator's reader on the US crops. Michigan's DONOR vanity plate is labelled
    D0N0R (one glyph for O and 0 there); generic reading reports the letters, the `us` region the zeros."""
    rows = [("us/mi172.jpg", "D0N0R", "us-mi"), ("br/" + next((ocr_dir / "br").iterdir()).name, "XXX0000", "br")]
    for file, _, _ in rows:
        (tmp_path / file).parent.mkdir(exist_ok=True)
        (tmp_path / file).write_bytes((ocr_dir / file).read_bytes())
    (tmp_path / "labels.csv").write_text("file,text,region\n" + "".join(f"{f},{t},{r}\n" for f, t, r in rows))
    reads = {}
    for region in ("generic", "us"):
        details = tmp_path / f"{region}.csv"
        done = platestream("eval-ocr", tmp_path, "--split", "all", "--only", "us", "--region", region,
                           "--details", details)
        assert done.returncode == 0, done.stderr
        found = list(csv.DictReader(details.open()))
        assert [r["file"] for r in found] == ["mi172.jpg"]  # the Brazilian crop is not scored
        reads[region] = found[0]["predicted"]
    assert reads == {"generic": "DONOR", "us": "D0N0R"}
    done = platestream("eval-ocr", tmp_path, "--split", "all", "--only", "cn")
    assert done.returncode == 2 and "no crops labelled 'cn'" in done.stderr
