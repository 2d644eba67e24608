"""Pack what a GPU box needs to train the detector: a downscaled plates-detect copy and offline wheels.

The box gets a copy of the repository (tracked and untracked-not-ignored files) plus carried ignored folders,
64 MiB in all, and has no network and no ../shared. So `.gpu/` (ignored by git, carried by name) holds:

    .gpu/plates-detect/   images/{train,val} re-encoded (longest side <= imgsz, JPEG quality chosen to fit
                          --max-mib), labels/{train,val} copied unchanged (YOLO boxes are normalised)
    .gpu/wheels/          ultralytics and the few pure or small packages the box lacks
    .gpu/frames/          the first 720p frames of endtoend-us, unchanged, for `training/gpu/bench.sh`
    .gpu/pack.json        what was packed and how
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from PIL import Image

MIB = 2**20
ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT.parent / "shared" / "datasets" / "plates-detect"
FRAMES_SOURCE = ROOT.parent / "shared" / "datasets" / "endtoend-us"
TRAVEL_LIMIT_MIB = 64  # the device tool's limit on everything that travels: repo tree + carried paths

# What the box lacks, as read from /work/.library/device/KINDS.md (its image already has torch, torchvision,
# numpy, opencv-python-headless, matplotlib, pillow, pyyaml, psutil, requests, nvidia-ml-py, onnx,
# onnxruntime, sympy, ml-dtypes, tqdm). Pinned to the versions in this virtualenv, so both sides train alike.
BOX_WHEELS = (
    "ultralytics",  # the trainer; installed with --no-deps: it asks for opencv-python, the box has -headless
    "ultralytics-thop",  # FLOPs counter ultralytics imports when it builds a model
    "onnxslim",  # ONNX simplification in `platestream export detector` (skipped with a warning without it)
    # `python -m platestream.cli` imports platestream.settings (pydantic-settings) and pipeline (rapidfuzz):
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "python-dotenv",
    "annotated-types",
    "typing-inspection",
    "rapidfuzz",
)
# Not packed: polars (ultralytics' plots and CSV helpers; its runtime wheel is ~45 MB) -> run.sh trains with
# plots=false and draws results.png itself; opencv-python-headless (~50 MB) -> the box has it.
BOX_PYTHON = "3.12"
BOX_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


class PackError(Exception):
    """Packing failed in a way the user can fix (missing source, pip download failed)."""


@dataclass(frozen=True)
class Item:
    split: str
    image: Path
    label: Path | None


@dataclass(frozen=True)
class DatasetReport:
    images: int
    bytes: int
    side: int  # longest side the images were fitted to
    quality: int


def list_items(source: Path, limit: int | None = None) -> list[Item]:
    """Images of images/{train,val} with their label files; limit takes the first N of each split."""
    items = []
    for split in ("train", "val"):
        folder = source / "images" / split
        if not folder.is_dir():
            raise PackError(f"{source} is not a YOLO folder: {folder} is missing")
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        for image in images[:limit]:
            label = source / "labels" / split / f"{image.stem}.txt"
            items.append(Item(split, image, label if label.is_file() else None))
    if not items:
        raise PackError(f"{source} has no images")
    return items


def load(path: Path) -> tuple[Image.Image, bytes]:
    """RGB pixels and the EXIF block, kept so that the orientation ultralytics reads stays the same."""
    with Image.open(path) as image:
        return image.convert("RGB"), image.info.get("exif", b"")


def encode(image: Image.Image, exif: bytes, side: int, quality: int) -> bytes:
    """The image fitted into side x side (never enlarged) as JPEG."""
    if max(image.size) > side:
        scale = side / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True, exif=exif)
    return buffer.getvalue()


def candidates(imgsz: int, largest: int, quality: int, min_quality: int) -> list[tuple[int, int]]:
    """(side, quality) pairs, best first: full resolution at falling quality, then smaller sides.

    Resolution goes last because plates are small objects; quality only down to min_quality, since heavy
    JPEG blocking is a texture the camera frames never have.
    """
    top = min(imgsz, largest)
    sides = [top] + [s for s in range(top - top % 32, imgsz // 2 - 1, -32) if s < top]
    qualities = list(range(quality, min_quality - 1, -5))
    return [(s, q) for s in sides for q in qualities]


def largest_side(items: Sequence[Item]) -> int:
    """From the headers alone (PIL opens lazily): sides above it would only repeat the same encodings."""
    largest = 0
    for item in items:
        with Image.open(item.image) as image:
            largest = max(largest, *image.size)
    return largest


def sample(items: Sequence[Item], count: int = 120) -> list[tuple[Image.Image, bytes]]:
    """Decoded images spread evenly over the set, to estimate sizes without a full pass (~30 s here)."""
    return [load(item.image) for item in items[:: max(1, len(items) // count)]]


def estimate_bytes(picked: Sequence[tuple[Image.Image, bytes]], total: int, side: int, quality: int) -> int:
    size = sum(len(encode(image, exif, side, quality)) for image, exif in picked)
    return round(size * total / len(picked))


def write_dataset(items: Sequence[Item], dest: Path, side: int, quality: int) -> int:
    """Write the YOLO folder and return the bytes of what was written."""
    if dest.exists():
        shutil.rmtree(dest)  # a stale image from an earlier, larger pack would still travel
    total = 0
    for split in ("train", "val"):
        (dest / "images" / split).mkdir(parents=True)
        (dest / "labels" / split).mkdir(parents=True)
    for item in items:
        data = encode(*load(item.image), side, quality)
        (dest / "images" / item.split / f"{item.image.stem}.jpg").write_bytes(data)
        total += len(data)
        if item.label is not None:
            label = dest / "labels" / item.split / item.label.name
            shutil.copyfile(item.label, label)
            total += label.stat().st_size
    (dest / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: plate\n")
    return total


def pack_dataset(source: Path, dest: Path, imgsz: int, max_mib: float, limit: int | None = None,
                 quality: int = 85, min_quality: int = 40) -> DatasetReport:
    """Write the best (side, quality) whose size is within max_mib; estimates pick it, the real size decides."""
    items = list_items(source, limit)
    picked = sample(items)
    largest = largest_side(items)
    budget = max_mib * MIB
    for side, q in candidates(imgsz, largest, quality, min_quality):
        if estimate_bytes(picked, len(items), side, q) > budget * 0.97:  # 3% margin for the sample's error
            continue
        size = write_dataset(items, dest, side, q)
        print(f"dataset: {len(items)} images at side <= {side}, quality {q}: {size / MIB:.1f} MiB")
        if size <= budget:
            return DatasetReport(images=len(items), bytes=size, side=side, quality=q)
    raise PackError(f"{len(items)} images do not fit in {max_mib} MiB even at side {imgsz // 2}, quality "
                    f"{min_quality}: raise --max-mib or use --limit")


def wheel_specs(names: Sequence[str]) -> list[str]:
    """name==version as installed here, so the box runs what was tested here; bare names if not installed."""
    specs = []
    for name in names:
        try:
            specs.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            specs.append(name)
    return specs


def download_wheels(dest: Path, names: Sequence[str], python_version: str = BOX_PYTHON) -> list[Path]:
    """Wheels for the box's Python and platform (binary only: nothing may need building there)."""
    if dest.exists():
        shutil.rmtree(dest)  # two versions of one package stop the whole offline install
    dest.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", python_version, "--implementation", "cp",
               *(arg for platform in BOX_PLATFORMS for arg in ("--platform", platform)),
               "--dest", str(dest), *wheel_specs(names)]
    print("$ " + " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackError(f"pip download failed:\n{result.stderr.strip()}")
    return sorted(dest.glob("*.whl"))


def pack_wheels(dest: Path, names: Sequence[str], skip: bool, python_version: str = BOX_PYTHON) -> list[Path]:
    """The box's wheels into dest, or none at all (`--no-wheels`: dest is removed, the box uses what it has)."""
    if skip:
        shutil.rmtree(dest, ignore_errors=True)
        return []
    return download_wheels(dest, names, python_version)


def copy_bench_frames(source: Path, dest: Path, count: int) -> int:
    """The first `count` 1280x720 frames, bytes unchanged: the box scales them to 1080p for the benchmark."""
    shutil.rmtree(dest, ignore_errors=True)
    if count <= 0:
        return 0
    dest.mkdir(parents=True)
    copied = 0
    for path in sorted(source.glob("*.jpg")):
        with Image.open(path) as image:
            if image.size != (1280, 720):
                continue
        shutil.copyfile(path, dest / path.name)
        copied += 1
        if copied == count:
            break
    return copied


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def tree_bytes(repo: Path, exclude: Path) -> dict[str, int]:
    """Bytes of what travels without carry (tracked + untracked-not-ignored files), by top-level folder."""
    result = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=False)
    if result.returncode != 0:
        return {}
    sizes: dict[str, int] = {}
    for name in result.stdout.decode().split("\0"):
        path = repo / name
        if not name or not path.is_file() or path.is_symlink() or path.resolve().is_relative_to(exclude.resolve()):
            continue
        top = name.split("/")[0] if "/" in name else "."
        if top == "engines" and name.startswith("engines/models/"):
            top = "engines/models"
        sizes[top] = sizes.get(top, 0) + path.stat().st_size
    return sizes


def summary(out: Path, dataset: DatasetReport, wheels: list[Path], tree: dict[str, int]) -> str:
    lines = [f"{out}/plates-detect: {dataset.bytes / MIB:6.1f} MiB  ({dataset.images} images, longest side "
             f"<= {dataset.side}, JPEG quality {dataset.quality})"]
    wheel_total = sum(w.stat().st_size for w in wheels)
    lines.append(f"{out}/wheels:        {wheel_total / MIB:6.1f} MiB  ({len(wheels)} wheels)")
    lines += [f"    {w.stat().st_size / MIB:5.2f} MiB  {w.name}" for w in wheels]
    if (out / "frames").is_dir():
        frames = list((out / "frames").iterdir())
        lines.append(f"{out}/frames:        {sum(f.stat().st_size for f in frames) / MIB:6.1f} MiB  "
                     f"({len(frames)} endtoend-us frames for bench.sh)")
    pack_total = folder_bytes(out)
    lines.append(f"{out} total:         {pack_total / MIB:6.1f} MiB")
    if tree:
        tree_total = sum(tree.values())
        lines.append(f"repo tree without carry: {tree_total / MIB:.1f} MiB ("
                     + ", ".join(f"{k} {v / MIB:.1f}" for k, v in sorted(tree.items(), key=lambda kv: -kv[1])[:4])
                     + ")")
        travel = (tree_total + pack_total) / MIB
        lines.append(f"travels with carry [{out.name}]: {travel:.1f} MiB of {TRAVEL_LIMIT_MIB} MiB")
        if travel > TRAVEL_LIMIT_MIB:
            lines.append("WARNING: over the device limit. Keep big untracked files out of the tree for that call "
                         "(e.g. add /engines/models/ to .git/info/exclude while they are untracked), or pack less "
                         "(--max-mib, --limit).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gpu.pack", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu", help="pack folder (ignored by git)")
    parser.add_argument("--source", type=Path, default=SOURCE, help="YOLO folder to pack")
    parser.add_argument("--imgsz", type=int, default=640, help="longest image side at most")
    parser.add_argument("--max-mib", type=float, default=40.0, help="size limit of the packed dataset")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality to start from")
    parser.add_argument("--min-quality", type=int, default=40, help="below this, shrink the images instead")
    parser.add_argument("--limit", type=int, help="pack only the first N images of each split")
    parser.add_argument("--frames", type=Path, default=FRAMES_SOURCE, help="frames for the GPU benchmark")
    parser.add_argument("--bench-frames", type=int, default=32, help="how many 720p frames to pack (0: none)")
    parser.add_argument("--no-wheels", action="store_true", help="skip the wheel download (keeps no wheels)")
    parser.add_argument("--python-version", default=BOX_PYTHON, help="the box's Python, for binary wheels")
    args = parser.parse_args(argv)
    if args.imgsz < 64 or not 1 <= args.min_quality <= args.quality <= 100 or args.max_mib <= 0:
        parser.error("need --imgsz >= 64, 1 <= --min-quality <= --quality <= 100 and --max-mib > 0")
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
        dataset = pack_dataset(args.source, out / "plates-detect", args.imgsz, args.max_mib, args.limit,
                               args.quality, args.min_quality)
        frames = copy_bench_frames(args.frames, out / "frames", args.bench_frames)
        wheels = pack_wheels(out / "wheels", BOX_WHEELS, args.no_wheels, args.python_version)
    except (PackError, OSError) as exc:
        print(f"pack: error: {exc}", file=sys.stderr)
        return 2
    manifest = {"source": str(args.source), "dataset": asdict(dataset), "bench_frames": frames,
                "wheels": [w.name for w in wheels]}
    (out / "pack.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(summary(out, dataset, wheels, tree_bytes(ROOT, out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
