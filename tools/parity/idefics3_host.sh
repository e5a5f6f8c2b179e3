#!/usr/bin/env bash
# The GPU-host call for issue 4 (run from the repository root there; carry .gpu-host, .gl and
# dist-bench, built here by `node tools/bench/build.mjs` plus dist-bench/vlm-sharp.tar.xz, see below):
#   1. the tiny-idefics3 CI fixture: tokenizer/processor files + transformers' oracle on the CPU,
#      returned as $OUT/tiny-idefics3.tar (committed as tools/parity/fixtures/tiny-idefics3);
#   2. SmolVLM-256M's real config with random f32 weights: the oracle on CUDA (TF32 off) for a
#      1536x1024 photo, then our engine at f32 / q8 / q4 against it (and against the tiny fixture);
#   3. photo to first token for the 256M and 500M shapes (dist-bench/vlm.mjs ttft).
# The bundle's transformers.js needs `sharp` under Node: dist-bench/vlm-sharp.tar.xz holds
# node_modules/{sharp,@img/*} from this checkout (tar -C node_modules -cJf dist-bench/vlm-sharp.tar.xz
# sharp @img). transformers.js also require()s onnxruntime-node when it loads, which the bench never
# runs (the engine runs the network; ONNX would be 45 MB over the carry limit): a package that
# throws if ONNX Runtime is ever used stands in for it, only in this throwaway copy of the tree.
# Without the sharp tarball (carry limit), a throwing stand-in replaces sharp too: enough for
# STEPS=ttft with --tiling gpu (the app's path resizes on the GPU).
# Env: OUT (results), STEPS (default "fixture parity ttft"), PARITY_ARGS / TTFT_ARGS (extra flags).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/vlm-out}
STEPS=${STEPS:-fixture parity ttft}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
source .gpu-host/setup.sh
mkdir -p node_modules/onnxruntime-node
if [ -f dist-bench/vlm-sharp.tar.xz ]; then
  tar -C node_modules -xJf dist-bench/vlm-sharp.tar.xz
else # ttft --tiling gpu never resizes on the CPU: a stand-in that throws if sharp is ever used
  mkdir -p node_modules/sharp
  echo '{"name":"sharp","version":"0.0.0","main":"index.js"}' > node_modules/sharp/package.json
  echo 'module.exports = () => { throw new Error("sharp is not on this host: carry dist-bench/vlm-sharp.tar.xz"); };' > node_modules/sharp/index.js
fi
echo '{"name":"onnxruntime-node","version":"0.0.0","main":"index.js"}' > node_modules/onnxruntime-node/package.json
echo 'const no = () => { throw new Error("ONNX Runtime is not available in the Lumen bench bundle"); }; module.exports = { InferenceSession: { create: no }, Tensor: no, env: {}, listSupportedBackends: () => [] };' > node_modules/onnxruntime-node/index.js
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
node --version
T=/tmp/tiny-idefics3
P=/tmp/smolvlm-256m
status=0
if [[ " $STEPS " == *" fixture "* ]]; then
  rm -rf "$T" && mkdir -p "$T"
  node tools/parity/idefics3_make_tokenizer.mjs "$T" &&
    python3 tools/parity/idefics3_reference.py --out "$T" --preset tiny &&
    tar -C /tmp -cf "$OUT/tiny-idefics3.tar" tiny-idefics3 || status=1
fi
if [[ " $STEPS " == *" parity "* ]]; then
  rm -rf "$P" && mkdir -p "$P"
  node tools/parity/idefics3_make_tokenizer.mjs "$P" --preset smolvlm-256m &&
    python3 tools/parity/idefics3_reference.py --out "$P" --preset smolvlm-256m --device cuda &&
    cp "$P/reference.json" "$OUT/smolvlm-256m-reference.json" || status=1
  dirs=()
  for d in "$T" "$P"; do [ -f "$d/reference.safetensors" ] && dirs+=("$d"); done
  [ ${#dirs[@]} -gt 0 ] && { node dist-bench/vlm.mjs parity "${dirs[@]}" --json "$OUT/parity.json" ${PARITY_ARGS:-} || status=1; }
fi
if [[ " $STEPS " == *" ttft "* ]]; then
  node dist-bench/vlm.mjs ttft --json "$OUT/ttft.json" ${TTFT_ARGS:-} || status=1
fi
ls -la "$OUT"
exit $status
