#!/bin/bash
# GPU-host runs of the engine benchmarks (issue 3), one step after another, each under its own
# timeout and logging to one file in $OUT (the device tool returns only a few files per call).
# Needs .gl and .gpu-host carried, plus the bundles the steps use (built here first:
# `node tools/bench/build.mjs && node tools/bench/build-kernels.mjs` -> dist-bench/; BUNDLES=dir reads
# them from another carried folder).
# Usage on the host: [ARGS...] bash tools/bench/host-run.sh "<steps>", steps among
#   bench    bench.mjs $BENCH_ARGS (default: 135M q4+q8, prefill 128/1024, decode 128) -> bench.log, bench.json
#   kernels  kernels.mjs $KERNELS_ARGS (default: --gemv-only --quick --shapes 11008x4096 --kinds q4)
#            -> kernels.log, kernels.json
#   sweep    prefill-kernels.mjs $SWEEP_ARGS (GEMM tiles x split-K, one-dispatch vs split attention),
#            then again with $SWEEP2_ARGS if set -> sweep.log
#   parity   transformers oracle (make_reference.py) + our engine on the real SmolLM2-135M shape, fused
#            vs unfused decode compared -> parity.log, parity.json
#   vlm      photo to first token, SmolVLM-256M q4, committed then previous GEMM/attention routing
#            ($VLM_ROUNDS rounds) -> ttft.log
# Timeouts: $BENCH_S, $KERNELS_S, $SWEEP_S, $PARITY_S, $VLM_S seconds.
set -o pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
source .gpu-host/setup.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
B=${BUNDLES:-dist-bench}
STEPS="${1:-bench kernels parity}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$OUT/gpu.txt"; }
step_bench() {
  timeout "${BENCH_S:-300}" node "$B/bench.mjs" ${BENCH_ARGS:---models smollm2-135m --quants q4,q8 --prefill 128,1024 --decode 128} \
    --json "$OUT/bench.json" 2>&1 | cut -c1-2000 > "$OUT/bench.log"
}
step_kernels() {
  timeout "${KERNELS_S:-300}" node "$B/kernels.mjs" ${KERNELS_ARGS:---gemv-only --quick --shapes 11008x4096 --kinds q4} \
    --json "$OUT/kernels.json" > "$OUT/kernels.log" 2>&1
}
step_sweep() {
  timeout "${SWEEP_S:-150}" node "$B/prefill-kernels.mjs" ${SWEEP_ARGS:-} > "$OUT/sweep.log" 2>&1
  if [ -n "${SWEEP2_ARGS:-}" ]; then timeout "${SWEEP_S:-150}" node "$B/prefill-kernels.mjs" $SWEEP2_ARGS >> "$OUT/sweep.log" 2>&1; fi
}
step_parity() {
  PYTHONUNBUFFERED=1 timeout "${PARITY_S:-120}" python3 tools/parity/make_reference.py --out /tmp/ref --models smollm2-135m 2>&1 | tail -3
  timeout 90 node "$B/parity.mjs" /tmp/ref/smollm2-135m --compare-unfused --json "$OUT/parity.json" 2>&1 | cut -c1-600 > "$OUT/parity.log"
}
step_vlm() {
  # transformers.js loads sharp / onnxruntime-node; --tiling gpu uses neither: throwing stand-ins
  for p in sharp onnxruntime-node; do
    mkdir -p node_modules/$p
    echo "{\"name\":\"$p\",\"version\":\"0.0.0\",\"main\":\"index.js\"}" > node_modules/$p/package.json
    echo 'const no = () => { throw new Error("not on this host"); }; module.exports = Object.assign(no, { InferenceSession: { create: no }, Tensor: no, env: {}, listSupportedBackends: () => [] });' > node_modules/$p/index.js
  done
  for round in $(seq 1 "${VLM_ROUNDS:-1}"); do
    for v in vlm vlm-prev-routing; do
      timeout "${VLM_S:-60}" node "$B/$v.mjs" ttft --models smolvlm-256m --quants q4 --runs 5 2>&1 | cut -c1-3000 >> "$OUT/ttft.log"
    done
  done
}
for s in $STEPS; do
  stamp "$s"
  "step_$s"
  stamp "$s rc=$?"
done
ls -la "$OUT"
