"""Experiment tracking: real training runs logged to MLflow, W&B written offline, config errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_training import CONFIGS, tiny_ocr_folder, tiny_yolo_folder
from training.config import load_config, new_run_dir
from training.errors import ConfigError
from training.tracking import flatten, mlflow_key, open_tracker


def mlflow_runs(uri: str, experiment: str = "platestream") -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment} in {uri}"
    return client.search_runs([found.experiment_id])


def test_params_are_flat_and_metric_keys_valid_for_mlflow() -> None:
    params = flatten({"epochs": 3, "oversample": {"us": 3}, "charset": "A" * 900, "extra_data": []})
    assert params["epochs"] == "3" and params["oversample.us"] == "3" and params["extra_data"] == "[]"
    assert len(params["charset"]) == 500 and params["charset"].endswith("...")
    assert mlflow_key("metrics/mAP50-95(B)") == "metrics/mAP50-95_B" and mlflow_key("lr/pg0") == "lr/pg0"


@pytest.mark.parametrize("tracking", [{"kind": "tensorboard"}, "neptune", {"kind": "mlflow", "experment": "x"}, 3,
                                      {"kind": "wandb", "mode": "ofline"}])
def test_a_bad_tracking_config_is_a_config_error(tracking: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tracking"):
        open_tracker({"tracking": tracking}, tmp_path)
    assert not (tmp_path / "wandb").exists()


def test_a_missing_tracking_package_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow.entities", None)  # what an install without the extra looks like
    with pytest.raises(ConfigError, match=r"platestream\[tracking\]"):
        open_tracker({"tracking": "mlflow"}, tmp_path)


@pytest.mark.slow
def test_ocr_training_logs_params_metrics_and_files_to_mlflow(ocr_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    from training.ocr import train_ocr

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # set by the tracker too; reading back needs it first
    uri = f"file:{tmp_path / 'mlruns'}"
    data = tiny_ocr_folder(ocr_dir, tmp_path / "crops")
    overrides = [f"data={data}", "epochs=1", "batch=8", "val_fraction=0.3", f"tracking={{kind: mlflow, uri: '{uri}'}}"]
    run = new_run_dir(tmp_path / "runs", "ocr", "tracked")
    train_ocr(load_config(CONFIGS / "ocr.yaml", overrides), run)

    [logged] = mlflow_runs(uri)
    client = MlflowClient(tracking_uri=uri)
    assert logged.info.run_name == run.name and logged.info.status == "FINISHED"
    assert logged.data.params["epochs"] == "1" and logged.data.params["tracking.kind"] == "mlflow"
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "exact_all")] == [1]
    assert {"loss", "char_accuracy_all", "exact_br"} <= set(logged.data.metrics)
    assert {a.path for a in client.list_artifacts(logged.info.run_id)} == {"metrics.csv", "config.yaml"}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The ``noload``")  # MLflow's SQLite store on SQLAlchemy 2.1; not ours to fix
def test_mlflow_gets_detector_metrics_from_our_callback_only(detect_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The default store is SQLite beside the run folders. ultralytics' own MLflow logger stays off: it skips
    tests unless their name holds "test_mlflow" (this one's does), and would log into MLFLOW_TRACKING_URI."""
    from mlflow.tracking import MlflowClient

    from training.detector import train_detector

    runs = tmp_path.resolve() / "runs"
    uri = f"sqlite:///{runs / 'detector' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    data = tiny_yolo_folder(detect_dir, tmp_path / "tiny", per_split=8)
    overrides = [f"data={data}", "epochs=1", "imgsz=128", "batch=4", "cache=false", "workers=0", "plots=false",
                 "tracking=mlflow"]
    run = new_run_dir(runs, "detector", "tracked")
    train_detector(load_config(CONFIGS / "detector.yaml", overrides), run)

    [logged] = mlflow_runs(uri)
    assert logged.info.run_name == run.name and logged.data.params["imgsz"] == "128"
    assert {"metrics/mAP50_B", "metrics/mAP50-95_B", "train/box_loss", "val/box_loss", "lr/pg0"} <= set(
        logged.data.metrics)
    client = MlflowClient(tracking_uri=uri)
    # ultralytics' logger would have opened an experiment named after the run folder (its `project`).
    assert {e.name for e in client.search_experiments()} <= {"platestream", "Default"}
    assert {a.path for a in client.list_artifacts(logged.info.run_id)} == {"results.csv", "config.yaml"}
    assert (runs / "detector" / "mlartifacts").is_dir() and not (tmp_path / "mlruns").exists()


def test_wandb_writes_an_offline_run_into_the_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no login, no ~/.netrc: offline must not need them
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline must be the tracker's default, not the env's
    run = tmp_path / "runs" / "ocr" / "20260101-000000"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    tracker = open_tracker({"tracking": {"kind": "wandb"}}, run)
    tracker.log_params({"epochs": 1, "oversample": {"us": 3}})
    tracker.log_metrics({"loss": 0.5, "metrics/mAP50(B)": 0.25, "device": "cpu"}, step=1)
    tracker.log_artifact(run / "metrics.csv")
    tracker.close()

    [offline] = list((run / "wandb").glob("offline-run-*"))
    assert list(offline.glob("*.wandb")) and (offline / "files" / "metrics.csv").is_file()
