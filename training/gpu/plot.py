"""Draw an ultralytics results.csv as results.png with matplotlib alone.

ultralytics draws its own results.png with polars, which the GPU box lacks (its wheel is too big to carry),
so run.sh trains with plots=false and draws the curves with this instead.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

X_COLUMNS = ("epoch", "time")


def read_columns(path: Path) -> dict[str, list[float]]:
    """Numeric columns of a CSV file by (stripped) header name; cells that are not numbers become NaN."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise ValueError(f"{path} has no data rows")
    header = [h.strip() for h in rows[0]]
    columns: dict[str, list[float]] = {name: [] for name in header}
    for row in rows[1:]:
        for name, cell in zip(header, row, strict=False):
            try:
                columns[name].append(float(cell))
            except ValueError:
                columns[name].append(math.nan)
    return columns


def plot_results(csv_path: Path, png_path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on the box
    import matplotlib.pyplot as plt

    columns = read_columns(csv_path)
    x = columns.get("epoch") or list(range(1, len(next(iter(columns.values()))) + 1))
    series = [name for name in columns if name not in X_COLUMNS and not name.startswith("lr/")]
    cols = 5
    rows = max(1, math.ceil(len(series) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, series, strict=False):
        ax.plot(x, columns[name], marker=".", linewidth=1.5)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(series):]:
        ax.axis("off")
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu.plot", description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="results.csv of an ultralytics run")
    parser.add_argument("png", type=Path, help="image to write")
    args = parser.parse_args(argv)
    try:
        print(f"wrote {plot_results(args.csv, args.png)}")
    except (OSError, ValueError) as exc:
        print(f"plot: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
