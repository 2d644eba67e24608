"""A stand-in for polars on the GPU box, where the real one is not carried (its runtime wheel is ~45 MB).

ultralytics' trainer imports polars in save_model() to store results.csv in every checkpoint
(`pl.read_csv(bytes, infer_schema_length=None).to_dict(as_series=False)`); with plots=false that is its only
use during training. This module does just that with the csv module; anything else fails loudly.
run.sh puts it on PYTHONPATH only when `import polars` fails there.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any


def _value(cell: str) -> int | float | str | None:
    """Typed like polars' inference for results.csv: integers, floats, else the text (None when empty)."""
    if cell == "":
        return None
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


class DataFrame:
    def __init__(self, columns: dict[str, list[Any]]) -> None:
        self.columns = columns

    def to_dict(self, as_series: bool = True) -> dict[str, list[Any]]:
        if as_series:
            raise NotImplementedError("the polars stand-in returns plain lists only (as_series=False)")
        return {name: list(values) for name, values in self.columns.items()}


def read_csv(source: bytes | str | Path, **_: Any) -> DataFrame:
    text = source.decode() if isinstance(source, bytes) else Path(source).read_text()
    rows = list(csv.reader(io.StringIO(text)))
    header = [name.strip() for name in rows[0]] if rows else []
    columns: dict[str, list[Any]] = {name: [] for name in header}
    for row in rows[1:]:
        for name, cell in zip(header, row, strict=False):
            columns[name].append(_value(cell.strip()))
    return DataFrame(columns)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"polars.{name}: only a stand-in for read_csv is on this machine (training/gpu/shim)")
