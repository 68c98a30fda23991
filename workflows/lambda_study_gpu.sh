#!/usr/bin/env bash
# The full λ study (workflows/lambda_study.py, default mode: 2 datasets x 8 settings x 10 seeds,
# generator designs input and skip, 300 runs, 40 epochs) on one lent GPU, as one command.
#
# Before the call, here (the device machine reaches nothing outside the working tree):
#   geocgan data fetch mnist --dir data/lambda_study --offline
#   geocgan data fetch fashion-mnist --dir data/lambda_study --offline
#   gzip -9 data/lambda_study/mnist/*-ubyte
# (41 MB of .gz IDX files in data/, which git ignores; with the 24 MB tree, under the 64 MiB
# that travels), then call the device with
#   command: bash workflows/lambda_study_gpu.sh $OUT      carry: ["data/lambda_study"]
#   timeout_s: 600
# The FID classifiers come cached in workflows/results/lambda_study/classifiers/.
# Not yet run. Estimate: 36.6 MFLOP per image and training step (torch's flop counter,
# ngf = ndf = 16), 300 runs x 40 epochs x 44 992 images = 19.8 PFLOP: 7 min at 50 TFLOP/s
# of TF32 grouped convolutions, 17 min at 20. Each epoch checkpoints both stacks in runs/
# (kept on a warm machine): a second call of the same command resumes where the first
# stopped, with the same numbers. Results come back as $OUT/lambda_full.tar (unpack into
# workflows/results/lambda_study/full/) with the log; a partial run returns the validation
# logs of the epochs done.
set -u
out=${1:?give the output folder}
budget=${2:-540}  # seconds for the study itself, inside the device call's 600
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TQDM_MININTERVAL=30
res=results_full
mkdir -p "$out" "$res"
log="$out/session.log"
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())"
} >"$log" 2>&1
timeout "$budget" python3 workflows/lambda_study.py --data-dir data/lambda_study --out "$res" \
    --runs-dir runs/lambda_study/full >>"$log" 2>&1
echo "exit $? at $(date -u)" >>"$log"
for f in runs/lambda_study/full/*/val_log.json; do
    [ -f "$f" ] && cp "$f" "$res/val_log_$(basename "$(dirname "$f")").json"
done
tar cf "$out/lambda_full.tar" -C "$res" .
