"""Experiment tracking besides the run folder's CSV: MLflow or Weights & Biases, both offline. Config `tracking:` is
null, {kind: mlflow, uri: null, experiment: platestream} or {kind: wandb, mode: offline, project: platestream}."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from training.errors import ConfigError

KEYS = {"kind", "uri", "experiment", "project", "mode"}
MAX_PARAM_CHARS = 500  # older MLflow servers reject longer param values (recent ones take 6000)


class Tracker(Protocol):
    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None: ...
    def log_artifact(self, path: Path) -> None: ...
    def close(self, failed: bool = False) -> None: ...


class NullTracker:
    """`tracking: null`: the run folder's CSV is the only record."""

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None: ...
    def log_artifact(self, path: Path) -> None: ...
    def close(self, failed: bool = False) -> None: ...


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{'a': {'b': 1}} -> {'a.b': '1'}: MLflow params are flat strings; over-long values are cut, not dropped."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            text = str(value)
            out[name] = text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."
    return out


def mlflow_key(key: str) -> str:
    """`metrics/mAP50(B)` -> `metrics/mAP50_B`: MLflow names allow only alphanumerics and `_ - . / space`."""
    return re.sub(r"[^\w./\- ]", "_", key).rstrip("_") or "_"


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Numbers only (tensors and numpy scalars become floats); trainers' dicts may carry strings such as a device."""
    return {k: float(v) for k, v in metrics.items() if hasattr(v, "__float__")}


class MlflowTracker:
    """One MLflow run per training process, named after the run folder, through a client (no global active run)."""

    def __init__(self, run_dir: Path, uri: str | None, experiment: str) -> None:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        self.metric, self.param = Metric, Param  # imported here: mlflow is an optional dependency
        artifacts = None
        if uri is None:  # a local store next to the run folders: runs/<kind>/mlflow.db and runs/<kind>/mlartifacts
            uri = f"sqlite:///{(run_dir.parent / 'mlflow.db').resolve()}"
            artifacts = (run_dir.parent / "mlartifacts").resolve().as_uri()
        elif uri.startswith("file:"):  # MLflow 3 refuses its file store unless opted in; a file: URI opts in
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(experiment, artifacts)
        tags = {"platestream.run_dir": str(run_dir.resolve())}
        self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name, tags=tags).info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.client.log_batch(self.run_id, params=[self.param(mlflow_key(k), v) for k, v in flatten(params).items()])

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        stamp = int(time.time() * 1000)
        entries = [self.metric(mlflow_key(k), v, stamp, step) for k, v in numeric(metrics).items()]
        self.client.log_batch(self.run_id, metrics=entries)

    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def close(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")


class WandbTracker:
    """A W&B run written into <run>/wandb; offline needs no login or network, `wandb sync` uploads it later."""

    def __init__(self, run_dir: Path, project: str, mode: str) -> None:
        import wandb

        # create_new: never hand back (or finish) another run active in this process; console off: leave tqdm alone.
        settings = wandb.Settings(silent=True, console="off", disable_git=True, reinit="create_new")
        self.run = wandb.init(project=project, name=run_dir.name, dir=str(run_dir), mode=mode, settings=settings)  # type: ignore[arg-type]

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.run.config.update(dict(params), allow_val_change=True)  # a resumed run may have raised `epochs`

    def log_metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        self.run.log(numeric(metrics), step=step)

    def log_artifact(self, path: Path) -> None:
        self.run.save(str(path), base_path=str(path.parent), policy="now")

    def close(self, failed: bool = False) -> None:
        self.run.finish(exit_code=1 if failed else 0)


def open_tracker(config: Mapping[str, Any], run_dir: Path) -> Tracker:
    spec = config.get("tracking")
    if not spec:
        return NullTracker()
    spec = {"kind": spec} if isinstance(spec, str) else spec  # `tracking=mlflow` on the command line
    if not isinstance(spec, Mapping) or set(spec) - KEYS:
        raise ConfigError(f"tracking must be null, a kind or a mapping with keys {sorted(KEYS)}, not {spec!r}")
    kind = spec.get("kind")
    try:
        if kind == "mlflow":
            return MlflowTracker(run_dir, spec.get("uri"), str(spec.get("experiment") or "platestream"))
        if kind == "wandb":
            return WandbTracker(run_dir, str(spec.get("project") or "platestream"), str(spec.get("mode") or "offline"))
    except ImportError as exc:
        raise ConfigError(f"tracking kind {kind} needs pip install 'platestream[tracking]': {exc}") from exc
    except ValueError as exc:  # a setting the library rejects, such as wandb's `mode`
        raise ConfigError(f"tracking {kind}: {exc}") from exc
    raise ConfigError(f"unknown tracking kind {kind!r}: use mlflow or wandb (or tracking: null)")


@contextmanager
def tracked(config: Mapping[str, Any], run_dir: Path, files: Iterable[Path] = ()) -> Iterator[Tracker]:
    """The configured tracker with the config as params; `files` are logged once training ends, and the run is
    closed as failed if it raises. Only small files (CSV, config): weights are large and stay in the run folder."""
    tracker = open_tracker(config, run_dir)
    try:
        tracker.log_params(config)
        yield tracker
    except BaseException:
        tracker.close(failed=True)
        raise
    for path in filter(Path.is_file, files):
        tracker.log_artifact(path)
    tracker.close()
