# Sourced first by run.sh, bench.sh and ocr.sh on the GPU box: step(), what machine this is, and the carried
# wheels installed (wheels.sh).
step() { echo "== $(date +%T) $*"; }

step "machine"
nvidia-smi || echo "nvidia-smi failed"
python3 --version
nproc

step "install carried wheels (offline) into /tmp/site"
source training/gpu/wheels.sh
