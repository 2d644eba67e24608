"""Experiment configs are checked before a run starts: a typo or a bad value is exit code 2 with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import load_config
from training.errors import ConfigError
from training.schemas import check_config

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"


@pytest.mark.parametrize("kind", ["ocr", "glyphs", "detector"])
def test_shipped_configs_pass_unchanged(kind: str) -> None:
    config = load_config(CONFIGS / f"{kind}.yaml")
    assert check_config(kind, config) == config  # type: ignore[arg-type]


def test_values_are_converted_and_nothing_is_filled_in() -> None:
    # YAML reads 1e-4 (no dot) as a string; the check makes it the number the optimizer needs
    assert check_config("ocr", load_config(CONFIGS / "ocr.yaml", ["lr=1e-4"]))["lr"] == 1e-4
    # a config saved by an older run lacks the keys added since; they stay absent (the trainer has their old meaning)
    added_since = {"full_width", "reorder", "respell", "stretch"}
    older = {k: v for k, v in load_config(CONFIGS / "ocr.yaml").items() if k not in added_since}
    assert check_config("ocr", older) == older
    # required keys are the ones the trainer cannot do without
    with pytest.raises(ConfigError, match="epochs: Field required"):
        check_config("ocr", {k: v for k, v in older.items() if k != "epochs"})


BAD = [
    ("ocr", "epochs=abc", "epochs: Input should be a valid integer"),
    ("ocr", "epoch=3", "epoch: not a key of this config (a typo?)"),
    ("ocr", "lr=-1", "lr: Input should be greater than 0 (got -1)"),
    ("ocr", "oversample={us: 0}", "oversample.us: Input should be greater than or equal to 1"),
    ("ocr", "extra_data=runs/pseudo", "extra_data: Input should be a valid list"),
    ("ocr", "synthetic_styles=[us, mars]", "unknown style(s) mars"),
    ("glyphs", "copies=0", "copies: Input should be greater than or equal to 1"),
    ("detector", "epochs=abc", "'epochs' must be an int"),
    ("detector", "epoch=3", "epoch: not a key of this config or an ultralytics training argument"),
    ("detector", "lr0=-1", "Valid 'lr0' values are between 0.0 and 1.0"),
]


@pytest.mark.parametrize(("kind", "override", "message"), BAD)
def test_bad_override_is_a_usage_error_before_any_work(kind: str, override: str, message: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from platestream.cli import main

    runs = tmp_path / "runs"
    assert main(["train", kind, override, "--runs", str(runs)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not runs.exists()  # no run folder is made for a run that never started
