// Matmul front door: Y[M, N] = X[M, K] W^T (+ bias) for any M, picking the kernel by M at
// record time: M = 1 → GEMV (decode), quantized W and M ≤ 8 (≤ 16 on CPU adapters) → skinny GEMM
// (small verification trees), otherwise the tiled GEMM (whose tile / split-K plan adapts to M,
// gemm.ts). The crossover is measured (docs/BENCHMARKS.md, "Prefill and decode attention (issue 3,
// third session)"): on an H200 the skinny kernel ties the split-K tiled GEMM at M = 8 and loses
// by 1.3-1.7x at M = 16 (before split-K it won 2.5-3x at M = 8-16). On CPU adapters (SwiftShader)
// f32 W at M = 1 also goes to the tiled GEMM, whose one-output-per-thread
// variant there has no workgroup barriers: a decode step of the tiny Llama fixture drops from
// ~300 ms to ~70 ms (the f32 GEMV's 256-thread reduction is what CPU adapters are slowest at).
// Sub-ops are created on first use.
import type { GpuContext } from '../gpu/context';
import type { Recorder } from '../gpu/recorder';
import { createGemm, type Gemm } from './gemm';
import { createGemmSkinny, type GemmArgs, type GemmSkinny } from './gemm-skinny';
import { createGemv, type Gemv } from './gemv';
import { OpShapeError, type GpuTensor, type Op } from './types';

export interface MatmulInit {
  w: GpuTensor;
  x: GpuTensor;
  y: GpuTensor;
  bias?: GpuTensor;
  maxM: number;
}

export type MatmulKernel = 'gemv' | 'skinny' | 'tiled';

/** Largest M routed to the skinny GEMM (GPU adapters; CPU adapters: SKINNY_ROUTE_MAX_M_SOFTWARE). */
export const SKINNY_ROUTE_MAX_M = 8;
export const SKINNY_ROUTE_MAX_M_SOFTWARE = 16;

function skinnyMaxM(software: boolean): number {
  return software ? SKINNY_ROUTE_MAX_M_SOFTWARE : SKINNY_ROUTE_MAX_M;
}

/** Which kernel a call with `m` rows uses. */
export function matmulKernelFor(dtype: GpuTensor['dtype'], m: number, software = false): MatmulKernel {
  if (m === 1) return software && dtype === 'f32' ? 'tiled' : 'gemv';
  if (dtype !== 'f32' && m <= skinnyMaxM(software)) return 'skinny';
  return 'tiled';
}

export class Matmul implements Op<GemmArgs> {
  readonly name = 'matmul';
  private gemv: Op<GemmArgs> | null = null;
  private skinny: GemmSkinny | null = null;
  private tiled: Gemm | null = null;

  constructor(
    readonly ctx: GpuContext,
    private readonly init: MatmulInit,
  ) {
    if (!(init.maxM >= 1)) throw new OpShapeError(`matmul: maxM ${init.maxM} must be ≥ 1`);
  }

  /** Create (and compile) the kernels every M from `minM` (default 1) up to maxM may use. */
  warm(minM = 1): void {
    const { dtype } = this.init.w;
    const software = this.ctx.caps.software;
    for (const m of [1, 2, Math.min(this.init.maxM, skinnyMaxM(software)), this.init.maxM]) {
      if (m >= minM && m <= this.init.maxM) this.pick(matmulKernelFor(dtype, m, software));
    }
    this.skinny?.warm();
    // the tiled GEMM's plan (tile, split-K) changes with M: compile the plans of the row counts
    // from the first tiled M up by powers of two, and maxM
    const first = Math.max(minM, dtype === 'f32' ? 2 : skinnyMaxM(software) + 1);
    const ms = [first, this.init.maxM];
    for (let m = 16; m < this.init.maxM; m *= 2) if (m > first) ms.push(m);
    if (first <= this.init.maxM) (this.pick('tiled') as Gemm).warm(ms);
  }

  private pick(kind: MatmulKernel): Op<GemmArgs> {
    const { w, x, y, bias, maxM } = this.init;
    switch (kind) {
      case 'gemv': {
        if (!this.gemv) {
          const g: Gemv = createGemv(this.ctx, { w, x, y, bias });
          this.gemv = { name: g.name, record: (rec, a) => g.record(rec, { xOffset: a.xOffset, yOffset: a.yOffset }) };
        }
        return this.gemv;
      }
      case 'skinny':
        return (this.skinny ??= createGemmSkinny(this.ctx, { w, x, y, bias, maxM: Math.min(maxM, skinnyMaxM(this.ctx.caps.software)) }));
      case 'tiled':
        return (this.tiled ??= createGemm(this.ctx, { w, x, y, bias, maxM }));
    }
  }

  record(rec: Recorder, args: GemmArgs): void {
    if (!(args.m >= 1 && args.m <= this.init.maxM)) throw new OpShapeError(`matmul: m = ${args.m} outside 1..${this.init.maxM}`);
    this.pick(matmulKernelFor(this.init.w.dtype, args.m, this.ctx.caps.software)).record(rec, args);
  }
}

export function createMatmul(ctx: GpuContext, init: MatmulInit): Matmul {
  return new Matmul(ctx, init);
}
