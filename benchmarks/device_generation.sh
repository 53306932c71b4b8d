#!/usr/bin/env bash
# The generation benchmark on a lent GPU (H100/H200), in one short run (under 8 minutes).
#
# The device image has torch, transformers, accelerate and peft but not diffusers, and nothing
# can be installed from the network there; the pure-Python diffusers package travels in the
# ignored folder .devsite (prepare it here, then name it in the run's `carry`):
#
#   echo /.devsite/ >> .git/info/exclude
#   mkdir -p .devsite && cp -r /work/main/.venv/lib/python3.11/site-packages/diffusers .devsite/
#   find .devsite -name __pycache__ -prune -exec rm -rf {} +     # 30 MB left, pure Python
#
# and run it with the device tool: command "bash benchmarks/device_generation.sh",
# carry [".devsite"], timeout_s 540. Results land in $OUT (generation.json, the logs).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/.devsite:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
PY=${PY:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
$PY -c "import torch, diffusers, transformers; print(torch.__version__, diffusers.__version__, transformers.__version__)" 2>&1 | tee "$OUT/versions.txt"
# 1. eager: plain diffusers, the engine, the engine with the fp16 VAE; FLOPs per part (~3 min)
timeout 270 $PY -P benchmarks/generation.py --repeats 5 --json "$OUT/generation.json" 2>&1 | tee "$OUT/generation.log"
# 2. torch.compile (mode default; compiling costs tens of seconds per shape), engine+fp16vae only
timeout 180 $PY -P benchmarks/generation.py --repeats 5 --runners engine+fp16vae --compile default \
  --json "$OUT/generation_compile.json" 2>&1 | tee "$OUT/generation_compile.log"
exit 0
