#!/usr/bin/env bash
# The CUDA tests and the GPU timings in one run, for a GPU machine whose Python has torch but not the project's pins.
#
#   bash benchmarks/device_check.sh OUT_DIR            # on the GPU machine, from the repository root
#   DEVICE=cpu QUICK=1 bash benchmarks/device_check.sh runs/device_smoke   # here: the same commands, small
#
# Wheels of what that machine lacks (gymnasium 0.29.1, stable-baselines3 2.2.1, imitation 1.0.1, ...) are installed
# from .whl/ when it exists (docs/BENCHMARKS.md, "On a GPU (NVIDIA H200)", says how they were fetched). Every step
# has its own time limit and writes its output to OUT_DIR, so a slow step costs its own figure, not the others'.
set -uo pipefail
OUT_DIR=${1:?usage: device_check.sh OUT_DIR}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
mkdir -p "$OUT_DIR"
if compgen -G ".whl/*.whl" >/dev/null && [ "${INSTALL_WHEELS:-1}" = 1 ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
# the package's own layout without installing it: ttt_gym from the root, ttt_envs from envs/
mkdir -p /tmp/ttt_pkgs && ln -sfn "$PWD/envs" /tmp/ttt_pkgs/ttt_envs
export PYTHONPATH="$PWD:/tmp/ttt_pkgs${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version(),
             'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"; } 2>&1 | tee "$OUT_DIR/machine.txt"

timeout 200 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py 2>&1 | tee "$OUT_DIR/cuda_tests.log"

timeout 60 "$PY" -m benchmarks.agent_speed --device "$DEVICE" --threads 1 --seconds "${SECONDS_PER_CONFIG:-4}" \
    2>&1 | tee "$OUT_DIR/agent_speed.txt"

# GC-TTT per step (K=100, N=100, batch 256, 512^3 GC-IQL, 1M synthetic transitions): the figure of docs/TTT.md "Cost"
timeout 80 "$PY" -m benchmarks.gc_ttt_step --device "$DEVICE" --env-steps "${ENV_STEPS:-300}" \
    2>&1 | tee "$OUT_DIR/gc_ttt_step.txt"

QUICK_FLAG=()
[ "${QUICK:-0}" = 1 ] && QUICK_FLAG=(--quick)
timeout 80 "$PY" -m benchmarks.throughput --device "$DEVICE" --trainers bc "${QUICK_FLAG[@]}" \
    --actors gru transformer ttt_linear ttt_e2e --output "$OUT_DIR/throughput.json" 2>&1 | tee "$OUT_DIR/throughput_bc.log"
timeout 150 "$PY" -m benchmarks.throughput --device "$DEVICE" --trainers dagger "${QUICK_FLAG[@]}" \
    --actors gru transformer ttt_linear --output "$OUT_DIR/throughput.json" 2>&1 | tee "$OUT_DIR/throughput_dagger.log"
echo "device_check done"
