#!/usr/bin/env bash
# Train the plate detector on a rented GPU box and export it; everything worth keeping lands in $OUT.
#
# Run from the repository root there, with .gpu/ (python -m training.gpu.pack) carried along:
#   set -o pipefail; bash training/gpu/run.sh 2>&1 | tee "$OUT/run.log"
# The box has python3 + torch + CUDA but no ultralytics and no network: the wheels come from .gpu/wheels.
# Its output folder takes at most 8 files: run.log + the 7 copied below.
set -euo pipefail

OUT="${OUT:?OUT must name the folder whose files come back}"
PACK="${PACK:-.gpu}"
EPOCHS="${EPOCHS:-60}"      # an upper bound only: with time= ultralytics re-plans epochs after the first
HOURS="${HOURS:-0.12}"      # ultralytics' own time budget (7.2 min), its LR schedule ends on time
LIMIT_S="${LIMIT_S:-500}"   # hard stop for the trainer if time= overruns; best.pt is saved every epoch
IMGSZ="${IMGSZ:-640}"
BATCH="${BATCH:-64}"
WORKERS="${WORKERS:-8}"
DEVICE="${DEVICE:-0}"        # DEVICE=cpu (with IMGSZ=64 HOURS=0.001 ...) makes a dry run on any machine

source training/gpu/box.sh  # step(), the machine, the carried wheels
if ! python3 -c "import polars" 2>/dev/null; then
    echo "polars is missing: using the stand-in in training/gpu/shim (results.csv into checkpoints only)"
    export PYTHONPATH="$PYTHONPATH:$PWD/training/gpu/shim"
fi

step "check imports and CUDA"
DEVICE="$DEVICE" python3 - <<'EOF'
import os

import cv2, torch, torchvision, ultralytics
import platestream.cli  # noqa: F401  (fails here, not after training, if a package is missing)
import training.detector  # noqa: F401

print(f"torch {torch.__version__} torchvision {torchvision.__version__} cv2 {cv2.__version__} "
      f"ultralytics {ultralytics.__version__}")
if os.environ["DEVICE"] != "cpu":
    assert torch.cuda.is_available(), "CUDA is not available"
    print(torch.cuda.get_device_name(0))
EOF

step "train: imgsz=$IMGSZ batch=$BATCH time=${HOURS}h (hard stop ${LIMIT_S}s)"
status=0
# plots=false: ultralytics' plots need polars, which is not carried; results.png is drawn below instead.
timeout --signal=INT --kill-after=30 "$LIMIT_S" \
    python3 -m platestream.cli train detector --config training/configs/detector.yaml \
    data="$PACK/plates-detect" imgsz="$IMGSZ" epochs="$EPOCHS" time="$HOURS" batch="$BATCH" \
    workers="$WORKERS" cache=ram device="$DEVICE" plots=false \
    --runs "$PACK/runs" --name gpu || status=$?
echo "trainer exit status: $status (124/130: stopped by the hard limit)"

runs=("$PACK"/runs/detector/*-gpu)  # sorted by the time stamp in the name; nullglob is on
run="${runs[${#runs[@]}-1]:-}"
weights="$run/train/weights"
best="$weights/best.pt"
[[ -f "$best" ]] || best="$weights/last.pt"
if [[ -z "$run" || ! -f "$best" ]]; then
    echo "no weights were written: nothing to export" >&2
    exit 1
fi

step "copy results from $run"
cp "$run/train/results.csv" "$run/config.yaml" "$run/train/args.yaml" "$OUT/" 2>/dev/null || true
python3 -m training.gpu.plot "$run/train/results.csv" "$OUT/results.png" || echo "plot failed"
# Without optimizer state: an interrupted run's best.pt carries it and can pass the 16 MiB per-file limit.
python3 -c "import sys; from ultralytics.utils.torch_utils import strip_optimizer; strip_optimizer(sys.argv[1], sys.argv[2])" \
    "$best" "$OUT/best.pt" || cp "$best" "$OUT/best.pt"

step "export $best"
python3 -m platestream.cli export detector "$best" --out "$OUT" --imgsz 960 \
    || echo "export failed: run \`platestream export detector best.pt\` on the returned best.pt instead"

step "done"
ls -la "$OUT"
exit "$(( status == 0 || status == 124 || status == 130 ? 0 : status ))"
