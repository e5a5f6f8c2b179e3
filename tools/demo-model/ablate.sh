#!/usr/bin/env bash
# Short training ablations of the demo VLM, run side by side on one GPU host (GPU host command line).
#   V_a="--resume .demo-carry --phase1 0.4 ..." V_b="..." [V_c=...] BUDGET=270 bash tools/demo-model/ablate.sh
# Each variant V_<name> is a set of train.py flags on top of COMMON (below); the variants train at the
# same time (the tiny model leaves the GPU mostly idle, so three runs cost little more than one; on a host
# with several GPUs each variant gets its own, round-robin; each gets WORKERS scene-rendering processes, by
# default the host's cores shared out), then each export and the BASE folder (the shipped weights)
# are scored on the same held-out set (NEVAL questions a type, transformers, greedy; BASE= skips the
# shipped weights). $OUT gets eval-<name>.json and <name>.tar (fp32 checkpoint + aux head + training log +
# training_meta.json, written before the evals start); the caller tees log.txt: at most 8 files come back, so keep
# to three variants. best.tar: the f16 export of the variant with the best mean held-out score, best.txt its
# name. DUMP_DIR=dir: the first variant's eval also writes the held-out pixels there (for the engine eval).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/abl-out}
W=${WORK:-/tmp/abl}
BUDGET=${BUDGET:-270}
NEVAL=${NEVAL:-50}
BASE=${BASE-public/models/lumen-demo}
COMMON="--tokenizer-from public/models/lumen-demo --time-budget $BUDGET --pool 2000 --easy-pool 1500 --log-every 100"
mkdir -p "$OUT" "$W"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
[ "${NGPU:-0}" -ge 1 ] || NGPU=1
vars=$(compgen -v | grep '^V_' | sort)
NVAR=$(echo "$vars" | wc -w)
WORKERS=${WORKERS:-$(( $(nproc) / (NVAR > NGPU ? NVAR : NGPU) - 2 ))}
[ "$WORKERS" -ge 2 ] || WORKERS=2
names=()
gpu_of() { echo $(( $1 % NGPU )); }  # variant index -> GPU
for var in $vars; do
  name=${var#V_}
  names+=("$name")
  mkdir -p "$W/$name"
  echo "== variant $name (GPU $(gpu_of $((${#names[@]} - 1))), $WORKERS workers): ${!var}"
  # shellcheck disable=SC2086
  CUDA_VISIBLE_DEVICES=$(gpu_of $((${#names[@]} - 1))) python3 tools/demo-model/train.py --work "$W/$name" \
    --export "$W/$name/lumen-demo" --ckpt-out "$W/$name" --workers "$WORKERS" $COMMON ${!var} > "$OUT/train-$name.log" 2>&1 &
done
wait
for name in "${names[@]}"; do
  echo "== $name"; grep -E "^trained|exported|Error|error" "$OUT/train-$name.log" | tail -5
  grep -A1 -E "^step" "$OUT/train-$name.log" | tail -4
done
# checkpoints first, so that an eval cut short by the caller's deadline still leaves them
for name in "${names[@]}"; do
  mv "$OUT/train-$name.log" "$W/$name/train.log"
  (cd "$W/$name" && tar -cf "$OUT/$name.tar" --ignore-failed-read ckpt_text.safetensors ckpt_vision.safetensors ckpt_aux.safetensors \
    train.log lumen-demo/training_meta.json)
done
dump=()
if [ -n "${DUMP_DIR:-}" ]; then dump=(--dump-dir "$DUMP_DIR"); fi
i=0
for name in "${names[@]}"; do
  i=$((i + 1))
  if [ -f "$W/$name/lumen-demo/model.safetensors" ]; then
    CUDA_VISIBLE_DEVICES=$(gpu_of $((i - 1))) python3 tools/eval/eval_transformers.py --model "$W/$name/lumen-demo" --n-per-type "$NEVAL" --max-new-tokens 100 \
      --out "$W/$name/eval.json" "${dump[@]}" > "$W/$name/eval.log" 2>&1 &
    dump=()
  fi
done
evals=("${names[@]}")
if [ -n "$BASE" ]; then
  mkdir -p "$W/base"
  python3 tools/eval/eval_transformers.py --model "$BASE" --n-per-type "$NEVAL" --max-new-tokens 100 \
    --out "$W/base/eval.json" > "$W/base/eval.log" 2>&1 &
  evals=(base "${names[@]}")
fi
wait
for name in "${evals[@]}"; do
  echo "== eval $name"; grep -E "n=|questions in|Error" "$W/$name/eval.log" || tail -5 "$W/$name/eval.log"
  cp "$W/$name/eval.json" "$OUT/eval-$name.json" || true
done
# the variant with the best mean held-out score (exact match of the five short types + the describe
# count sentence) also sends its f16 export back as best.tar
best=$(python3 - "$W" "${names[@]}" <<'PY'
import json, os, sys
w, names = sys.argv[1], sys.argv[2:]
def score(n):
    try:
        s = json.load(open(os.path.join(w, n, "eval.json")))["summary"]
    except (OSError, KeyError, ValueError):
        return -1.0
    return (sum(s[t]["exact"] for t in ("color", "shape", "count", "position", "relative")) + s["describe"]["count_ok"]) / 6
scores = {n: score(n) for n in names}
print(" ".join(f"{n}={v:.3f}" for n, v in scores.items()), file=sys.stderr)
print(max(scores, key=scores.get))
PY
)
echo "== best: $best"
echo "$best" > "$OUT/best.txt"
tar -C "$W/$best" -cf "$OUT/best.tar" lumen-demo
ls -la "$OUT"
