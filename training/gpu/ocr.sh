#!/usr/bin/env bash
# Fine-tune the plate recognizer on a rented GPU box; the last epochs' weights and the metrics land in $OUT.
#
# Run from the repository root there, with .gpu-ocr/ (python -m training.gpu.pack_ocr) carried along:
#   set -o pipefail; bash training/gpu/ocr.sh 2>&1 | tee "$OUT/ocr.log"
# The recipe is stage 8's (engines/models/MODEL_CARD.md) with what a CPU could not afford: many more synthetic
# plates, rendered on the box's cores, and more epochs. Export and score the returned epochs here:
#   platestream export recognizer epoch11.pt epoch12.pt --out /tmp/gpu && platestream eval ... --recognizer ...
# Its output folder takes at most 8 files: ocr.log, metrics.csv, config.yaml and the last KEEP (4) epochs.
set -euo pipefail

OUT="${OUT:?OUT must name the folder whose files come back}"
PACK="${PACK:-.gpu-ocr}"
INIT="${INIT:-engines/models/recognizer.pt}"  # the shipped recognizer; empty: EasyOCR's english_g2 (not carried)
EPOCHS="${EPOCHS:-12}"         # one-cycle schedule over all of them: size it so the run ends before LIMIT_S
SYNTHETIC="${SYNTHETIC:-40000}" # rendered once, in parallel, before the first epoch
LR="${LR:-0.0002}"
BATCH="${BATCH:-128}"
WORKERS="${WORKERS:-12}"       # loader processes (augmentation runs there)
LIMIT_S="${LIMIT_S:-480}"      # hard stop for the trainer; every epoch's weights are saved as it ends
DEVICE="${DEVICE:-0}"          # DEVICE=cpu (with EPOCHS=1 SYNTHETIC=64 WORKERS=0 ...) makes a dry run anywhere
KEEP="${KEEP:-4}"
OVERRIDES="${OVERRIDES:-}"     # more key=value settings for `train ocr`, space-separated

source training/gpu/box.sh  # step(), the machine, the carried wheels
if [[ -f /tmp/site/easyocr/__init__.py ]]; then
    # easyocr's __init__ imports its whole OCR stack (scikit-image, scipy, python-bidi: not carried); training
    # imports only easyocr.model, the network definition.
    : > /tmp/site/easyocr/__init__.py
fi

step "check imports and CUDA"
DEVICE="$DEVICE" python3 - <<'EOF'
import os

import cv2, torch
import platestream.cli  # noqa: F401  (fails here, not after rendering, if a package is missing)
import training.ocr  # noqa: F401
from engines.networks import RecognizerNet

RecognizerNet(num_class=10)  # easyocr's network definition imports
print(f"torch {torch.__version__} cv2 {cv2.__version__}")
if os.environ["DEVICE"] != "cpu":
    assert torch.cuda.is_available(), "CUDA is not available"
    print(torch.cuda.get_device_name(0))
EOF

extra=()
for folder in "$PACK"/*/; do
    name=$(basename "$folder")
    [[ "$name" == plates-ocr || "$name" == wheels || "$name" == runs ]] || extra+=("${folder%/}")
done
extra_data="[$(IFS=,; echo "${extra[*]}")]"

step "train: init=${INIT:-english_g2} epochs=$EPOCHS synthetic=$SYNTHETIC batch=$BATCH extra_data=$extra_data"
status=0
# shellcheck disable=SC2086  # OVERRIDES is a list of key=value words
timeout --signal=INT --kill-after=30 "$LIMIT_S" \
    python3 -m platestream.cli train ocr --config training/configs/ocr.yaml \
    data="$PACK/plates-ocr" "extra_data=$extra_data" init="$INIT" camera=0.7 'oversample={us: 3, pseudo: 2}' \
    synthetic="$SYNTHETIC" synthetic_workers="$(nproc)" epochs="$EPOCHS" lr="$LR" batch="$BATCH" \
    workers="$WORKERS" device="$DEVICE" $OVERRIDES --runs "$PACK/runs" --name gpu || status=$?
echo "trainer exit status: $status (124/130: stopped by the hard limit)"

runs=("$PACK"/runs/ocr/*-gpu)  # sorted by the time stamp in the name; nullglob is on
run="${runs[${#runs[@]}-1]:-}"
if [[ -z "$run" || ! -f "$run/metrics.csv" ]]; then
    echo "no epoch finished: nothing to bring back" >&2
    exit 1
fi

step "copy results from $run"
cp "$run/metrics.csv" "$run/config.yaml" "$OUT/"
mapfile -t epochs < <(ls "$run"/epoch*.pt | sort -V | tail -n "$KEEP")
# weights stored in FP16 (7 MiB instead of 15: under the 16 MiB a returned file may have); export reads them
python3 - "$OUT" "${epochs[@]}" <<'EOF'
import sys
from pathlib import Path

import torch

for path in map(Path, sys.argv[2:]):
    state = torch.load(path, map_location="cpu", weights_only=False)
    state["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in state["state_dict"].items()}
    torch.save(state, Path(sys.argv[1]) / path.name)
EOF
cat "$run/metrics.csv"

step "done"
ls -la "$OUT"
exit "$(( status == 0 || status == 124 || status == 130 ? 0 : status ))"
