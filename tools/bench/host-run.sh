#!/bin/bash
# GPU-host run of the engine-core benchmarks (issue 3): e2e decode bench with the fused vs unfused
# decode path in one run, the big-matrix GEMV sweep with GPU timestamps, and parity of the fused
# path on the real SmolLM2-135M shape. Needs .gl, .gpu-host and dist-bench/{bench,kernels,parity}.mjs
# carried (build them here first: node tools/bench/build.mjs && node tools/bench/build-kernels.mjs).
# Usage on the host: bash tools/bench/host-run.sh "<bench args>" "<kernels args>" [parity]
# BUNDLES=dir reads the bundles from dir instead of dist-bench (a private copy, carried).
set -o pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
source .gpu-host/setup.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
B=${BUNDLES:-dist-bench}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
if [ -n "$1" ]; then node $B/bench.mjs $1 --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"; fi
if [ -n "$2" ]; then node $B/kernels.mjs $2 --json "$OUT/kernels.json" 2>&1 | tee "$OUT/kernels.log"; fi
if [ "$3" = parity ]; then
  PYTHONUNBUFFERED=1 python3 tools/parity/make_reference.py --out /tmp/ref --models smollm2-135m 2>&1 | tail -3
  node $B/parity.mjs /tmp/ref/smollm2-135m --compare-unfused --json "$OUT/parity.json" 2>&1 | cut -c1-600 | tee "$OUT/parity.log"
fi
