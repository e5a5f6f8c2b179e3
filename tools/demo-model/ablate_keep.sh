#!/usr/bin/env bash
# One GPU-host call from training variants to shippable files (GPU host command line, repository root):
#   V_a="..." V_b="..." [V_c="..."] BUDGET=230 NEVAL=100 bash tools/demo-model/ablate_keep.sh 2>&1 | tee $OUT/log.txt
# 1. ablate.sh: the variants train side by side, each export is scored on NEVAL held-out questions a type
#    (the first eval also dumps the held-out pixels), the best mean score wins;
# 2. keep rule: tools/eval/compare_reports.py against the shipped weights' report (REF, same questions):
#    the winner is kept only if its mean score is at least REF's + KEEP_MARGIN;
# 3. if kept: host_run.sh MODE=finish on it (our engine on the same pixels, reference dump, PPD), reusing
#    step 1's eval (needs node + Dawn: carry .gl, dist-eval and .demo-carry/gpu-host.tar.xz, unpacked here
#    in the background while training runs).
# FINISH=0 skips step 3 (a kept winner is then only reported: its files come back for a later call's finish).
# Each step runs under what is left of DEADLINE seconds, so the packing at the end always happens.
# $OUT gets at most 7 files besides the caller's log.txt (the device returns 8, each under ~17 MB):
# results.tar (eval reports, training and eval logs, compare output, engine-eval.json, ppd.json),
# ckpt-<name>.tar (fp32 checkpoint + aux head of each variant, also when the evals ran out of time; a
# 5-layer one is too large to come back), best.tar (the winner's f16 export lumen-demo/, with
# ppd.safetensors, reference.json and sample.png when kept), kept.txt (yes/no + the compare summary line).
set -uo pipefail
export PYTHONUNBUFFERED=1
T0=$SECONDS
DEADLINE=${DEADLINE:-570}
KEEP_MARGIN=${KEEP_MARGIN:-0.03}
REF=${REF:-tools/eval/results-transformers.json}
FINAL=${OUT:-/tmp/keep-out}
W=${WORK:-/tmp/abl}
S=$W/stage
rm -rf "$W"  # a warm host keeps /tmp between calls: an earlier call's stage/fin files must not be shipped
mkdir -p "$FINAL" "$S/fin"
left() { echo $((DEADLINE - (SECONDS - T0))); }

(for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
 if [ -f .demo-carry/gpu-host.tar.xz ]; then tar -xJf .demo-carry/gpu-host.tar.xz; fi) > "$W/setup.log" 2>&1 &
SETUP=$!

OUT=$S WORK=$W BASE='' DUMP_DIR=$W/heldout timeout "$(($(left) - 20))" bash tools/demo-model/ablate.sh
best=$(cat "$S/best.txt" 2>/dev/null || true)
keep=no
if [ -n "$best" ] && [ -f "$S/eval-$best.json" ]; then
  python3 tools/eval/compare_reports.py "$REF" "$S/eval-$best.json" --keep-margin "$KEEP_MARGIN" > "$S/compare-$best.txt" 2>&1 \
    && keep=yes
  cat "$S/compare-$best.txt"
  for name in $(ls "$S"/eval-*.json | sed 's/.*eval-\(.*\)\.json/\1/'); do
    [ "$name" = "$best" ] || python3 tools/eval/compare_reports.py "$REF" "$S/eval-$name.json" > "$S/compare-$name.txt" 2>&1
  done
fi
echo "== winner ${best:-none}, kept: $keep ($(($(left))) s left)"
if [ "$keep" = yes ] && [ "${FINISH:-1}" != 0 ] && [ "$(left)" -gt 90 ]; then
  wait "$SETUP"; tail -3 "$W/setup.log"
  # shellcheck disable=SC1091
  source .gpu-host/setup.sh
  rm -f public/models/lumen-demo/*
  cp "$W/$best/lumen-demo/"* public/models/lumen-demo/
  OUT=$S/fin WORK=$W MODE=finish EVAL_FROM="$S/eval-$best.json" HELDOUT=$W/heldout NEVAL="${NEVAL:-100}" \
    PPD_N="${PPD_N:-400}" PPD_BUDGET="${PPD_BUDGET:-35}" ENGINE_BUDGET="${ENGINE_BUDGET:-100}" \
    timeout "$(($(left) - 10))" bash tools/demo-model/host_run.sh || echo "finish stopped early (rc $?)"
  [ -f "$S/fin/ppd.safetensors" ] && cp "$S/fin/ppd.safetensors" "$W/$best/lumen-demo/"
  if [ -f "$S/fin/ref.tar" ]; then tar -C "$W/$best/lumen-demo" -xf "$S/fin/ref.tar" ./reference.json ./sample.png; fi
fi

# pack: at most 4 files + the caller's log
echo "$keep $(grep -h "mean" "$S/compare-$best.txt" 2>/dev/null | tail -1)" > "$FINAL/kept.txt"
(cd "$W" && tar -cf "$FINAL/results.tar" --ignore-failed-read stage/*.json stage/*.txt stage/fin/*.json stage/fin/*.txt \
  ./*/train.log ./*/eval.log setup.log 2>/dev/null)
for f in "$S"/*.tar; do  # every variant's checkpoint (at most 3 fit beside the other files)
  [ -f "$f" ] && [ "$(basename "$f")" != best.tar ] && mv "$f" "$FINAL/ckpt-$(basename "$f")"
done
[ -n "$best" ] && tar -C "$W/$best" -cf "$FINAL/best.tar" lumen-demo
ls -la "$FINAL"
echo "done in $((SECONDS - T0)) s"
