#!/usr/bin/env bash
# What a session runs when it is lent a GPU machine, in one call (about 8 minutes on an H100):
# the speed table, the real CLI on CUDA (train, resume, generate), the shapes-64 row of docs/results.md with a GPU's budget,
# then torch.compile. Each part has its own time limit, so one that hangs or fails does not hide the others.
# Results go to $OUT (or ./gpu-results). Uses the machine's own PyTorch; ganforge runs from the checkout.
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
python3 -c "import torch, tqdm, matplotlib, PIL, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

echo "== 1. speed: plain eager port and ganforge's precisions, batches 64 and 256"
timeout 150 python3 bench/gpu_speed.py --batches 64,256 --iterations 20 2>&1 | tee "$OUT/gpu_speed.txt"

echo "== 2. the CLI on CUDA: train 40 iterations (bf16), resume to 60, generate"
run=/tmp/ganforge-gpu-run
common=(--data shapes --preset seed --resolution 128 --batch-size 64 --device cuda --set train.amp=bf16
        --set data.shapes_size=2000 --sample-every 20 --checkpoint-every 20 --out "$run")
timeout 90 python3 -m ganforge train "${common[@]}" --iterations 40 2>&1 | tail -3
timeout 90 python3 -m ganforge train "${common[@]}" --iterations 60 2>&1 | tail -5
tail -n 1 "$run/metrics.jsonl"
timeout 45 python3 -m ganforge generate "$run" -n 16 --grid --out "$OUT/generated" 2>&1 | tail -2

echo "== 3. shapes-64: stable on shapes at 64 px, batch 32, for ${SHAPES_MINUTES:=3} minutes"
timeout 270 python3 bench/stabilizers.py --presets stable --seeds 0 --minutes "$SHAPES_MINUTES" --device cuda 2>&1 | tee "$OUT/stabilizers.txt"

echo "== 4. bf16 + torch.compile at batch 256 (compile time in the warm-up column)"
timeout 150 python3 bench/gpu_speed.py --batches 256 --variants bf16 --compile --iterations 20 2>&1 | tee "$OUT/gpu_compile.txt"
