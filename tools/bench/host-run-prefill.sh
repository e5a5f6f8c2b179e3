#!/bin/bash
# GPU-host run for issue 3's prefill GEMM / decode-attention work (third session). Needs .gl,
# .gpu-host and dist-bench-3b/ carried (built here first: node tools/bench/build-prefill.mjs).
# Usage on the host: bash tools/bench/host-run-prefill.sh "<steps>", run in the order given, among
#   sweep   dist-bench-3b/prefill-kernels.mjs $SWEEP_ARGS (GEMM tiles x split-K, attention one-dispatch
#           vs split), then again with $SWEEP2_ARGS if set
#   bench   dist-bench-3b/bench.mjs $BENCH_ARGS (default: 135M q4+q8, prefill 32..1024, --compare-prefill)
#   parity  transformers oracle + our engine on the real SmolLM2-135M shape (make_reference.py)
#   vlm     photo to first token, SmolVLM-256M q4, current then previous routing ($VLM_ROUNDS rounds)
# Each step runs under its own timeout ($SWEEP_S, $BENCH_S, $VLM_S, $PARITY_S seconds) and logs to
# one file in $OUT (the device tool returns only a few files per call).
set -o pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
source .gpu-host/setup.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
STEPS="${1:-sweep bench parity vlm}"
BENCH_ARGS=${BENCH_ARGS:---models smollm2-135m --quants q4,q8 --prefill 32,128,256,512,1024 --decode 128 --compare-prefill}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$OUT/steps.txt"; }
step_sweep() {
  stamp sweep
  timeout "${SWEEP_S:-150}" node dist-bench-3b/prefill-kernels.mjs ${SWEEP_ARGS:-} > "$OUT/sweep.log" 2>&1
  stamp "sweep rc=$?"
  if [ -n "${SWEEP2_ARGS:-}" ]; then
    timeout "${SWEEP_S:-150}" node dist-bench-3b/prefill-kernels.mjs $SWEEP2_ARGS >> "$OUT/sweep.log" 2>&1
    stamp "sweep 2 rc=$?"
  fi
}
step_bench() {
  stamp bench
  timeout "${BENCH_S:-180}" node dist-bench-3b/bench.mjs $BENCH_ARGS 2>&1 | cut -c1-2000 > "$OUT/bench.log"
  stamp "bench rc=$?"
}
step_parity() {
  stamp parity
  PYTHONUNBUFFERED=1 timeout "${PARITY_S:-120}" python3 tools/parity/make_reference.py --out /tmp/ref --models smollm2-135m 2>&1 | tail -3
  timeout 60 node dist-bench-3b/parity.mjs /tmp/ref/smollm2-135m --json "$OUT/parity.json" 2>&1 | cut -c1-600 > "$OUT/parity.log"
  stamp "parity rc=$?"
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
      stamp "$v round $round"
      timeout "${VLM_S:-60}" node dist-bench-3b/$v.mjs ttft --models smolvlm-256m --quants q4 --runs 5 2>&1 | cut -c1-3000 >> "$OUT/ttft.log"
      stamp "$v rc=$?"
    done
  done
}
for s in $STEPS; do "step_$s"; done
ls -la "$OUT"
