# Sourced by box.sh on the GPU box: install the carried wheels offline into /tmp/site and put them
# and this repository's packages on the import path (the box has no network and no pip index).
shopt -s nullglob
wheels=("$PACK"/wheels/*.whl)
if (( ${#wheels[@]} )); then
    # --no-deps: ultralytics asks for opencv-python while the box has opencv-python-headless (the same cv2).
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "${wheels[@]}"
else
    echo "no wheels in $PACK/wheels: using what is installed"
fi
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the repo's packages without installing them
export YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ultralytics PYTHONUNBUFFERED=1
