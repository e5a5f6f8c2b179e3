// GEMV workgroup shapes the kernel benchmark (tools/bench/kernels.ts) sweeps: the full and quick
// lists of the earlier sessions, the split-K sweep, the third session's --confirm list and the
// fourth session's --xq8 list (q4 with int8 x quantized before the GEMV). Each
// entry is a GemvConfig, optionally run as y += W x (`acc`, the residual-add epilogue).
import { defaultGemvConfig, gemvRouting, type GemvConfig } from '../../workers/ops/gemv';
import type { QuantKind } from '../../workers/storage/quant';

/** A swept GEMV: workgroup shape, and whether it runs as y += W x (residual-add epilogue). */
export type SweepCfg = GemvConfig & { acc?: boolean };

/** A config's name in the benchmark log (tnAxtkBxrCxuD plus its options). */
export function cfgName(c: SweepCfg): string {
  const split = (c.ksplit ?? 1) > 1 ? `-k${c.ksplit}${c.ksplitReduce === 'atomic' ? 'atomic' : 'pass'}` : '';
  return `tn${c.tn}xtk${c.tk}xr${c.r}xu${c.u ?? 1}${c.pairRows ? '-pair' : ''}${c.xInt8 ? '-xint8' : ''}${c.unpackBuiltins ? '-builtins' : ''}${c.q4InPlace ? '-inplace' : ''}${c.prefetch ? '-prefetch' : ''}${c.xsmem === false ? '-xglobal' : ''}${split}${c.acc ? '-acc' : ''}${c.loadsOnly ? '-LOADSONLY' : ''}`;
}

/**
 * The fewest k-lanes (a power of two) whose `perLane` groups each cover `target` groups, with
 * tn x k-lanes threads within maxThreads; null when even the most lanes allowed fall short.
 */
function kLanes(target: number, perLane: number, tn: number, maxThreads: number): number | null {
  let tk = 1;
  while (tk * perLane < target && tn * tk * 2 <= maxThreads) tk *= 2;
  return tk * perLane >= target ? tk : null;
}

/**
 * Split-K sweep for an [n, k] GEMV: for 1, 2, 4, 8 slices, every 32- or 64-row shape whose
 * k-lanes x groups in flight cover one slice in one step (x staged per slice), both reductions
 * where they apply, and the no-split default as y += W x too (the atomic variants' baseline).
 */
export function splitConfigs(def: GemvConfig, k: number, kind: QuantKind, maxWg: number): SweepCfg[] {
  const groups = k / 32;
  const out: SweepCfg[] = [def, { ...def, acc: true }];
  for (const ks of [1, 2, 4, 8]) {
    const slice = Math.ceil(groups / ks);
    for (const tn of [32, 64]) {
      for (const u of [2, 4, 8, 16]) {
        const tk = kLanes(slice, u, tn, maxWg);
        if (tk === null || tn * tk < 128) continue;
        const base: SweepCfg = { tn, tk, r: 1, u, chunk: tk * u, q4InPlace: kind === 'q4', ...(ks > 1 ? { ksplit: ks } : {}) };
        out.push(base);
        if (ks > 1) out.push({ ...base, acc: true }, { ...base, acc: true, ksplitReduce: 'atomic' });
      }
    }
  }
  return out;
}

/**
 * The default as y = W x and as y += W x, the split-K routing's pick (gemvRouting.splitK on) as
 * y += W x, x-sharing row pairs and int8-x (q4) variants of the default and of nearby shapes, and
 * on the 11008x4096 target the loads-only diagnostic (same memory traffic, no q4 decode or x reads).
 */
export function confirmConfigs(n: number, k: number, kind: QuantKind, maxWg: number): SweepCfg[] {
  const def = defaultGemvConfig(n, k, maxWg, false, false);
  gemvRouting.splitK = true;
  const split: SweepCfg = { ...defaultGemvConfig(n, k, maxWg, false, true), acc: true };
  gemvRouting.splitK = false;
  const out: SweepCfg[] = [def, { ...def, acc: true }, split];
  const groups = k / 32;
  const want = Math.min(groups, 128); // groups one step should cover (x staged for up to 256)
  for (const tn of [16, 32]) {
    for (const u of [2, 4, 8, 16]) {
      const tk = kLanes(want, u, tn, Math.min(maxWg, 512));
      if (tk === null || tn * tk < 64 || tk * u > 256) continue;
      out.push({ tn, tk, r: 2, u, chunk: tk * u, q4InPlace: true, pairRows: true });
    }
  }
  if (kind === 'q4') {
    out.push({ ...def, xInt8: true }, { tn: 32, tk: 8, r: 1, u: 16, chunk: 128, xInt8: true }, { tn: 16, tk: 16, r: 1, u: 8, chunk: 128, xInt8: true }, { tn: 32, tk: 32, r: 1, u: 4, chunk: 128, xInt8: true });
  }
  if (n === 11008 && k === 4096 && kind === 'q4') {
    // Where the time beyond the loads goes (docs/BENCHMARKS.md "Kernels", third session): weight
    // loads issued before x is staged, and x read straight from the buffer (no staging, no barrier).
    out.push({ ...def, loadsOnly: true }, { ...def, prefetch: true }, { ...def, xsmem: false }, { ...def, prefetch: true, loadsOnly: true });
    // x read straight from the buffer (warp-uniform addresses: L1 broadcasts) at other shapes
    out.push(
      { ...def, xsmem: false, loadsOnly: true },
      { tn: 32, tk: 16, r: 1, u: 8, chunk: 128, xsmem: false },
      { tn: 32, tk: 8, r: 1, u: 16, chunk: 128, q4InPlace: true, xsmem: false },
      { tn: 64, tk: 8, r: 1, u: 16, chunk: 128, q4InPlace: true, xsmem: false },
      { tn: 32, tk: 32, r: 1, u: 4, chunk: 128, q4InPlace: true, xsmem: false },
      { tn: 32, tk: 8, r: 2, u: 8, chunk: 64, q4InPlace: true, xsmem: false },
    );
  }
  return out.filter((c) => c.tn * c.tk <= maxWg);
}

/** The default and the shapes that led earlier sweeps (--quick). */
export function quickConfigs(def: GemvConfig, kind: QuantKind, maxWg: number): SweepCfg[] {
  const all: SweepCfg[] = [
    def,
    { tn: 32, tk: 32, r: 1, u: 2, chunk: 64 },
    { tn: 32, tk: 16, r: 1, u: 4, chunk: 64 },
    { tn: 32, tk: 16, r: 1, u: 8, chunk: 128 },
    { tn: 32, tk: 8, r: 1, u: 8, chunk: 64 },
    { tn: 32, tk: 16, r: 1, u: 8, chunk: 128, unpackBuiltins: true },
    { tn: 64, tk: 8, r: 1, u: 8, chunk: 64 },
    { tn: 32, tk: 8, r: 4, u: 1, chunk: 64 },
    { tn: 32, tk: 16, r: 4, u: 1, chunk: 64 },
    { tn: 32, tk: 8, r: 8, u: 1, chunk: 64 },
    { tn: 32, tk: 8, r: 4, u: 2, chunk: 64 },
    // First step's loads issued before x is staged (r = 1 only).
    { tn: 32, tk: 16, r: 1, u: 8, chunk: 128, prefetch: true },
    { tn: 32, tk: 16, r: 1, u: 4, chunk: 64, prefetch: true },
    { tn: 32, tk: 32, r: 1, u: 2, chunk: 64, prefetch: true },
    { tn: 32, tk: 32, r: 1, u: 4, chunk: 128, prefetch: true },
    { tn: 16, tk: 16, r: 1, u: 8, chunk: 128, prefetch: true },
    { tn: 32, tk: 8, r: 1, u: 8, chunk: 64, prefetch: true },
    ...(kind === 'q4'
      ? [
          { tn: 32, tk: 16, r: 1, u: 8, chunk: 128, q4InPlace: true },
          { tn: 32, tk: 16, r: 1, u: 8, chunk: 128, q4InPlace: true, prefetch: true },
          { tn: 32, tk: 8, r: 4, u: 1, chunk: 64, q4InPlace: true },
        ]
      : []),
  ];
  return all.filter((c) => c.tn * c.tk <= maxWg);
}

/** The second session's broad sweep (no flag). */
export function fullConfigs(def: GemvConfig, maxWg: number): SweepCfg[] {
  const all: SweepCfg[] = [
    def,
    ...[1, 2, 4].map((u) => ({ tn: 32, tk: 8, r: 1, u, chunk: 64 })),
    ...[2, 4].map((u) => ({ tn: 32, tk: 8, r: 2, u, chunk: 64 })),
    { tn: 32, tk: 8, r: 4, u: 1, chunk: 64 },
    { tn: 32, tk: 8, r: 4, u: 2, chunk: 64 },
    ...[2, 4].map((u) => ({ tn: 16, tk: 16, r: 1, u, chunk: 64 })),
    ...[2, 4].map((u) => ({ tn: 16, tk: 16, r: 2, u, chunk: 64 })),
    ...[1, 2, 4].map((u) => ({ tn: 32, tk: 16, r: 1, u, chunk: 64 })),
    ...[2, 4].map((u) => ({ tn: 32, tk: 32, r: 1, u, chunk: 128 })),
    { tn: 32, tk: 16, r: 4, u: 1, chunk: 64 },
    { tn: 32, tk: 32, r: 4, u: 1, chunk: 64 },
    { tn: 32, tk: 32, r: 2, u: 2, chunk: 64 },
    { tn: 32, tk: 16, r: 2, u: 2, chunk: 64 },
    { ...def, unpackBuiltins: true },
    { ...def, xsmem: false },
    { tn: 32, tk: 16, r: 1, u: 4, xsmem: false, chunk: 64 },
    { tn: 32, tk: 8, r: 2, u: 2, xsmem: false, chunk: 64 },
    { tn: 32, tk: 8, r: 4, u: 1, xsmem: false, chunk: 64 },
    { tn: 16, tk: 16, r: 1, u: 2, xsmem: false, chunk: 64 },
    { tn: 32, tk: 32, r: 1, u: 2, xsmem: false, chunk: 64 },
    // Whole K in flight at once: one step of 4-8 groups per thread, x staged once.
    { tn: 32, tk: 32, r: 1, u: 4, chunk: 128 },
    { tn: 32, tk: 16, r: 1, u: 8, chunk: 128 },
    { tn: 16, tk: 16, r: 1, u: 8, chunk: 128 },
    { tn: 32, tk: 8, r: 1, u: 8, chunk: 64 },
    { tn: 32, tk: 8, r: 2, u: 8, chunk: 64 },
    { tn: 32, tk: 16, r: 2, u: 4, chunk: 128 },
    { tn: 32, tk: 16, r: 1, u: 8, chunk: 128, xsmem: false },
    { tn: 32, tk: 8, r: 1, u: 8, chunk: 64, xsmem: false },
    { tn: 32, tk: 4, r: 2, u: 8, chunk: 64, xsmem: false },
  ];
  return all.filter((c) => c.tn * c.tk <= maxWg);
}

/**
 * q4 with int8 x quantized by a dispatch before the GEMV and read from the buffer (no staging, no
 * barrier; GemvConfig.xInt8 with xsmem false) over workgroup shapes whose lanes x groups in flight
 * cover K in 1-4 steps, against the default, the default with int8 x quantized per workgroup, and
 * the loads-only diagnostic without staging (the floor: the same loads with no arithmetic).
 */
export function xq8Configs(n: number, k: number, maxWg: number): SweepCfg[] {
  const def = defaultGemvConfig(n, k, maxWg, false, false);
  const out: SweepCfg[] = [def, { ...def, xInt8: true }, { ...def, xsmem: false, loadsOnly: true }];
  const groups = k / 32;
  for (const tn of [16, 32, 64]) {
    for (const u of [2, 4, 8, 16]) {
      for (const steps of [1, 2, 4]) {
        const tk = kLanes(groups, u * steps, tn, maxWg);
        if (tk === null || tn * tk < 128 || tk * u * steps > 2 * groups) continue;
        out.push({ tn, tk, r: 1, u, chunk: 64, xsmem: false, xInt8: true });
      }
    }
  }
  out.push({ tn: 32, tk: 8, r: 2, u: 8, chunk: 64, xsmem: false, xInt8: true }, { tn: 32, tk: 16, r: 2, u: 4, chunk: 64, xsmem: false, xInt8: true });
  return out.filter((c) => c.tn * c.tk <= maxWg);
}
