#!/usr/bin/env bash
# Issue 21's GPU checks in one command, under 10 minutes on an H200; everything lands in OUT:
#   1. tests/test_noise.py on CUDA: the Philox words of the CPU (numpy) and of the GPU
#      (torch.compile'd int64 emulation) are equal, the normals agree to float rounding;
#   2. the data-parallel trainer over NCCL: torchrun, one process on the GPU, 2 epochs of a
#      small pixel-cGAN (the CPU test covers 2 processes; one GPU cannot run two);
#   3. the throughput table (workflows/throughput.py, no row started after 330 s): generator
#      alone, simulate (philox; bfloat16; the old per-realization draws), noise, memory per
#      realization, to a local Zarr store with bytes per realization, for the benchmark's
#      Gaussian model and the channel model at 64²-512², and bfloat16's effect on honoring.
# The GPU image has torch, numpy, scipy, safetensors, tqdm, matplotlib, pandas, xarray and
# pytest but not zarr nor the GIS stack. Before the call, here, in the repository root:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl zarr==3.1.6 numcodecs==0.16.6 \
#     donfig==0.8.1.post1 google-crc32c==1.9.0
#   python workflows/throughput.py --make-skeletons .gpu/skeletons   # empty stores, ~2 min
# (.whl and .gpu listed in .git/info/exclude), then run with carry [".whl", ".gpu"]:
#   bash workflows/gpu_throughput.sh $OUT
# and copy OUT's gpu_table.{json,md}, noise_tests.log, ddp.log and session.log to
# workflows/results/throughput/.
set -u
out=${1:?give the output folder}
mkdir -p "$out"
log="$out/session.log"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TQDM_DISABLE=1
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())"
} >"$log" 2>&1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl >>"$log" 2>&1
    export PYTHONPATH=$PWD:/tmp/site
fi

echo "== 1. noise tests on CUDA ($(date -u +%T))" >>"$log"
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_noise.py >"$out/noise_tests.log" 2>&1
echo "noise tests exit $?" >>"$log"

echo "== 2. NCCL data-parallel training, 1 process ($(date -u +%T))" >>"$log"
cat >/tmp/ddp_smoke.py <<'EOF'
import json, sys
import numpy as np
from geocgan.constraints import FieldSpec
from geocgan.fields import channel_field
from geocgan.models import build_model
from geocgan.train import FieldArray, TrainConfig, Trainer
model = build_model("pixel-cgan", {"ngf": 8, "ndf": 8, "nz": 4, "d_layers": 3}, FieldSpec("categorical", [0, 1]), seed=0)
data = FieldArray(channel_field((64, 64), n=64, seed=3))
cfg = TrainConfig(epochs=2, batch_size=16, steps_per_epoch=20, device="auto")
trainer = Trainer(model, data, cfg, checkpoint=sys.argv[1] + "/ddp.safetensors", progress=False)
rows = trainer.fit()
print(trainer.group, json.dumps(rows[-1]))
EOF
timeout 80 python3 -m torch.distributed.run --standalone --nproc-per-node 1 /tmp/ddp_smoke.py /tmp >"$out/ddp.log" 2>&1
echo "ddp exit $?" >>"$log"

echo "== 3. throughput table ($(date -u +%T))" >>"$log"
timeout 400 python3 workflows/throughput.py --out "$out" --skeletons .gpu/skeletons --budget 330 \
    >>"$log" 2>&1
echo "throughput exit $? ($(date -u +%T))" >>"$log"
