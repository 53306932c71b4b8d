#!/usr/bin/env bash
# The generation and live-answer benchmarks on a lent GPU (H100/H200), in one run (under 9 minutes).
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
# carry [".devsite"], timeout_s 580. Results land in $OUT (generation.json, live_latency.json,
# generation_compile.json and their logs).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/.devsite:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
PY=${PY:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
$PY -c "import torch, diffusers, transformers; print(torch.__version__, diffusers.__version__, transformers.__version__)" 2>&1 | tee "$OUT/versions.txt"
REPO=/tmp/sdxl-random  # built once by step 1 (float16, about 7 GB), reused by steps 2 and 3
# 1. eager: plain diffusers, the engine, the engine with the fp16 VAE; FLOPs per part (~3 min)
timeout 250 $PY -P benchmarks/generation.py --repeats 5 --repo $REPO --json "$OUT/generation.json" \
  2>&1 | tee "$OUT/generation.log"
# 2. live: the live worker (the code arena serve spawns) answering 1- and 4-step battles (~1 min);
#    the device image has no Gradio, so no server: docs/benchmarks.md adds the server's share
timeout 120 $PY -P benchmarks/live_latency.py --worker --repo $REPO --battles 30 \
  --json "$OUT/live_latency.json" 2>&1 | tee "$OUT/live_latency.log"
# 3. torch.compile (mode default; compiling costs tens of seconds per shape), engine+fp16vae only
timeout 150 $PY -P benchmarks/generation.py --repeats 5 --runners engine+fp16vae --compile default \
  --repo $REPO --json "$OUT/generation_compile.json" 2>&1 | tee "$OUT/generation_compile.log"
exit 0
