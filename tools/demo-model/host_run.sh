#!/usr/bin/env bash
# The GPU-host command lines for the demo model (run from the repository root on the host).
#   MODE=smoke bash tools/demo-model/host_run.sh   # a few minutes: checks + 60 steps + tiny eval/PPD
#   MODE=full  bash tools/demo-model/host_run.sh   # checks + training (STEPS, BUDGET s) + eval [+ engine eval] + PPD + reference
#   MODE=ppd   bash tools/demo-model/host_run.sh   # PPD prompt embeddings for the shipped weights only (~2 min):
#              $OUT/ppd.safetensors -> public/models/lumen-demo/, $OUT/ppd.json -> tools/ppd/results-lumen-demo.json
#   MODE=finish bash tools/demo-model/host_run.sh  # for the weights now in public/models/lumen-demo (~6 min):
#              transformers eval (NEVAL a type) + our engine on the same pixels (needs `source .gpu-host/setup.sh`,
#              carry dist-eval) + PPD + reference: $OUT/eval.json, engine-eval.json, ppd.json, ppd.safetensors, ref.tar;
#              KEEP_MIN=x stops after the transformers eval when the mean score (5 short types + describe count) < x;
#              EVAL_FROM=report + HELDOUT=dir reuse a transformers eval of these weights and its --dump-dir
# RESUME=dir continues from ckpt_text/ckpt_vision.safetensors in dir, or from an exported folder's
# model.safetensors (e.g. public/models/lumen-demo); TOKENIZER=dir reuses a trained tokenizer/processor.
# EXTRA passes more train.py flags. CHECKS=0 skips checks.py, PPD=0 skips PPD training, NEVAL sets
# the held-out questions per type. ENGINE_EVAL=1 also dumps the held-out set and runs our engine on
# it (dist-eval/engine-eval.mjs, needs `source .gpu-host/setup.sh` first: node + Dawn), same weights.
# Results go to $OUT: lumen-demo.tar (the exported folder + ppd.safetensors + reference files),
# ckpt_*.safetensors (fp32 checkpoint), eval.json, engine-eval.json, ppd.json.
set -euo pipefail
export PYTHONUNBUFFERED=1
MODE=${MODE:-smoke}
W=${WORK:-/tmp/demo}
E=$W/lumen-demo
OUT=${OUT:-/tmp/demo-out}
mkdir -p "$W" "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
if [ "$MODE" = ppd ]; then
  python3 tools/ppd/train_ppd.py --model public/models/lumen-demo --out "$OUT/ppd.safetensors" --n-train "${PPD_N:-800}" \
    --n-eval 200 --gen-batch 400 --max-new-tokens 100 --steps "${PPD_STEPS:-800}" --time-budget "${PPD_BUDGET:-35}" \
    --report "$OUT/ppd.json"
  exit 0
fi
if [ "$MODE" = finish ]; then
  M=public/models/lumen-demo
  H=${HELDOUT:-$W/heldout}
  if [ -n "${EVAL_FROM:-}" ]; then
    cp "$EVAL_FROM" "$OUT/eval.json"
  else
    python3 tools/eval/eval_transformers.py --model "$M" --n-per-type "${NEVAL:-100}" --max-new-tokens 100 \
      --out "$OUT/eval.json" --dump-dir "$H"
  fi
  if [ -n "${KEEP_MIN:-}" ]; then  # stop here unless the mean held-out score reaches KEEP_MIN
    python3 -c "import json,sys; s=json.load(open('$OUT/eval.json'))['summary']; \
m=(sum(s[t]['exact'] for t in ('color','shape','count','position','relative'))+s['describe']['count_ok'])/6; \
print(f'mean held-out score {m:.3f} (keep at >= $KEEP_MIN)'); sys.exit(0 if m >= $KEEP_MIN else 3)" || exit 0
  fi
  node dist-eval/engine-eval.mjs --model "$M" --heldout "$H" --max-new-tokens 100 --time-budget "${ENGINE_BUDGET:-240}" \
    --out "$OUT/engine-eval.json" --compare "$OUT/eval.json" || echo "engine eval FAILED"
  python3 tools/demo-model/dump_reference.py --model "$M" --out-dir "$W/ref"
  tar -C "$W/ref" -cf "$OUT/ref.tar" .
  python3 tools/ppd/train_ppd.py --model "$M" --out "$OUT/ppd.safetensors" --n-train "${PPD_N:-800}" \
    --n-eval 200 --gen-batch 400 --max-new-tokens 100 --steps "${PPD_STEPS:-1200}" --time-budget "${PPD_BUDGET:-45}" \
    --report "$OUT/ppd.json"
  ls -la "$OUT"
  exit 0
fi
TOK=${TOKENIZER:-$W/tokenizer}
if [ ! -f "$TOK/tokenizer.json" ]; then python3 tools/demo-model/hf_files.py "$TOK"; fi
RES=()
if [ -n "${RESUME:-}" ]; then RES=(--resume "$RESUME"); fi
if [ "${CHECKS:-1}" = 1 ]; then python3 tools/demo-model/checks.py --tokenizer "$TOK" --batches 30; fi
if [ "$MODE" = smoke ]; then
  python3 tools/demo-model/train.py --work "$W" --tokenizer-from "$TOK" --export "$E" --steps 60 \
    --log-every 20 --ckpt-out "$OUT" "${RES[@]}"
  python3 tools/eval/eval_transformers.py --model "$E" --n-per-type 5 --out "$OUT/eval.json"
  python3 tools/ppd/train_ppd.py --model "$E" --out "$E/ppd.safetensors" --n-train 64 --n-eval 32 \
    --steps 30 --report "$OUT/ppd.json"
else
  python3 tools/demo-model/train.py --work "$W" --tokenizer-from "$TOK" --export "$E" \
    --steps "${STEPS:-1000000}" --time-budget "${BUDGET:-300}" --lr "${LR:-1e-3}" --ckpt-out "$OUT" ${EXTRA:-} "${RES[@]}"
  tar -C "$W" -cf "$OUT/lumen-demo.tar" lumen-demo  # the model comes back even if a later step runs out of time
  DUMP=()
  if [ "${ENGINE_EVAL:-0}" = 1 ]; then DUMP=(--dump-dir "$W/heldout"); fi
  python3 tools/eval/eval_transformers.py --model "$E" --n-per-type "${NEVAL:-100}" --max-new-tokens 100 \
    --out "$OUT/eval.json" "${DUMP[@]}"
  if [ "${ENGINE_EVAL:-0}" = 1 ]; then
    node dist-eval/engine-eval.mjs --model "$E" --heldout "$W/heldout" --max-new-tokens 100 --time-budget "${ENGINE_BUDGET:-600}" \
      --out "$OUT/engine-eval.json" --compare "$OUT/eval.json"
  fi
  if [ "${PPD:-1}" = 1 ]; then
    python3 tools/ppd/train_ppd.py --model "$E" --out "$E/ppd.safetensors" --n-train "${PPD_N:-2000}" \
      --n-eval 300 --gen-batch 256 --max-new-tokens 100 --steps "${PPD_STEPS:-1500}" --time-budget "${PPD_BUDGET:-90}" --report "$OUT/ppd.json"
  fi
fi
python3 tools/demo-model/dump_reference.py --model "$E" --out-dir "$W/ref"
cp "$W/ref/sample.png" "$W/ref/reference.json" "$E/"
tar -C "$W" -cf "$OUT/lumen-demo.tar" lumen-demo
ls -la "$E" "$OUT"
