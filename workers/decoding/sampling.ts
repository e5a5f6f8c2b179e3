// Sampling parameters -> what the GPU selection step takes. Validates user settings (named
// errors, nothing silently clamped except documented limits) and owns the seeded random stream
// that feeds the on-GPU top-k / top-p sampler one uniform number per step.
import type { SamplingParams } from '../protocol/engine';
import { LumenError } from '../protocol/errors';
import type { TokenSelection } from './types';

/** Largest top-k the GPU sampler keeps (shaders/sample.wgsl MAX_K). */
export const MAX_TOP_K = 128;

export class InvalidSamplingError extends LumenError {
  override name = 'InvalidSamplingError';
}

/** mulberry32: small, fast, good enough to draw sampling uniforms; deterministic per seed. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function validateSampling(p: SamplingParams): void {
  const bad = (msg: string): never => {
    throw new InvalidSamplingError(`Invalid sampling setting: ${msg}`);
  };
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature)) bad(`temperature ${p.temperature} must be ≥ 0 (0 = greedy).`);
  if (!Number.isInteger(p.topK) || p.topK < 0) bad(`topK ${p.topK} must be a whole number ≥ 0 (0 = no limit).`);
  if (!(p.topP > 0 && p.topP <= 1)) bad(`topP ${p.topP} must be in (0, 1].`);
  if (!(p.repetitionPenalty > 0) || !Number.isFinite(p.repetitionPenalty)) bad(`repetitionPenalty ${p.repetitionPenalty} must be > 0 (1 = off).`);
  if (!Number.isInteger(p.maxNewTokens) || p.maxNewTokens < 1) bad(`maxNewTokens ${p.maxNewTokens} must be a whole number ≥ 1.`);
}

/** Per-generation selection source: greedy, or sampling with a fresh uniform each step. */
export class Selector {
  private readonly next: () => number;

  constructor(private readonly p: SamplingParams) {
    validateSampling(p);
    this.next = seededUniform(p.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  get greedy(): boolean {
    return this.p.temperature === 0;
  }

  selection(): TokenSelection {
    if (this.greedy) return { kind: 'greedy' };
    // topK 0 means "no limit"; the GPU sampler considers at most MAX_TOP_K candidates.
    const topK = this.p.topK === 0 ? MAX_TOP_K : Math.min(this.p.topK, MAX_TOP_K);
    return { kind: 'sample', temperature: this.p.temperature, topK, topP: this.p.topP, u: this.next() };
  }
}
