#!/usr/bin/env bash
# Benchmark the recognition core on a rented GPU box: 1080p frames per second, end to end (decode, detect,
# crop, recognize, format rules), PyTorch FP16 on CUDA, across batch sizes and parallel streams.
#
# Run from the repository root there, with .gpu/ (python -m training.gpu.pack) carried along:
#   set -o pipefail; bash training/gpu/bench.sh 2>&1 | tee "$OUT/bench.log"
# The frames are endtoend-us's 720p frames (packed unchanged) scaled to 1920x1080 and re-encoded (JPEG 90) here,
# so decoding costs what a 1080p camera frame costs.
set -euo pipefail

OUT="${OUT:?OUT must name the folder whose files come back}"
PACK="${PACK:-.gpu}"
DEVICE="${DEVICE:-cuda}"        # DEVICE=cpu BATCHES=1 STREAMS=1 LIMIT=4 makes a dry run on any machine
BATCHES="${BATCHES:-8,32,64}"
STREAMS="${STREAMS:-1,4,8}"
LIMIT="${LIMIT:-0}"              # 0: every packed frame (each is read once per measurement, repeated below)
REPEAT="${REPEAT:-8}"            # copies of each frame, so that a measurement lasts seconds, not milliseconds

source training/gpu/box.sh  # step(), the machine, the carried wheels

step "1080p frames from $PACK/frames"
frames=/tmp/frames-1080p
python3 - "$PACK/frames" "$frames" "$LIMIT" "$REPEAT" <<'PY'
import sys
from pathlib import Path

import cv2

source, dest, limit, repeat = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dest.mkdir(parents=True, exist_ok=True)
paths = sorted(source.glob("*.jpg"))[: limit or None]
if not paths:
    sys.exit(f"no frames in {source}: pack them with python -m training.gpu.pack (--bench-frames)")
for path in paths:
    image = cv2.resize(cv2.imread(str(path)), (1920, 1080), interpolation=cv2.INTER_LINEAR)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for copy in range(repeat):
        (dest / f"{path.stem}-{copy}.jpg").write_bytes(data.tobytes())
print(f"{len(paths)} frames x {repeat} copies at 1920x1080 in {dest}")
PY

step "bench core: torch on $DEVICE, batch $BATCHES, streams $STREAMS"
python3 -m platestream.cli bench core "$frames" --device "$DEVICE" --engines torch --batch "$BATCHES" \
    --streams "$STREAMS" --threads 1 --warmup 3 --json "$OUT/gpu-core.json"

step "done"
ls -la "$OUT"
