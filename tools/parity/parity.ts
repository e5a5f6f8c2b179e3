// Parity runner: installs an oracle model directory (make_reference.py output) into a Node file
// tensor store at a given quantization, loads it with our engine and compares against the
// reference: every row's logits through the prefill path (teacher forcing), greedy tokens through
// the real decoding loop (GEMV path, GPU argmax), and decode-path logits under teacher forcing.
// (tiny fixtures, SwiftShader) and by tools/parity/run.ts on the GPU host (real shapes).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuContext } from '../../workers/gpu/context';
import { generateTokens } from '../../workers/decoding/generate';
import { LlamaModel } from '../../workers/models/llama/model';
import { defaultSampling } from '../../workers/protocol/engine';
import { convertModel, policyFor } from '../../workers/storage/convert';
import { dirFileSource } from '../../workers/storage/fs-source';
import { FsTensorStore } from '../../workers/storage/tensor-store-fs';
import { logitError, readReference } from './reference';

export interface ParityReport {
  model: string;
  quantization: 'f32' | 'q8' | 'q4';
  promptTokens: number;
  /**
   * Prefill path (one pass, tiled/skinny GEMM) over prompt + the oracle's greedy tokens, LM head
   * on every row: errors on the prompt rows the reference has and on the 32 step rows, and how
   * many step rows pick the oracle's token. All 32 agreeing proves free-running greedy decoding
   * reproduces the oracle's 32 tokens exactly (by induction over the steps).
   */
  prefill: { promptMax: number; promptMean: number; stepMax: number; stepMean: number; argmaxAgree: number };
  /** Decode path (GEMV, split-K attention, GPU argmax) through generateTokens, `decodeSteps` tokens. */
  greedy: { ours: number[]; reference: number[]; agree: number };
  /** Decode path logits under teacher forcing for the first `decodeSteps` steps. */
  decode: { max: number; mean: number; steps: number };
  /** Those decode-path logits, (steps, V). */
  decodeLogits: Float32Array;
  /** Whether the decode steps after the first took the fused one-token path. */
  fusedDecode: boolean;
  /** Dispatches one decode pass records (embedding to argmax, one cache slot). */
  decodeDispatches: number;
  installMs: number;
  loadMs: number;
}

export interface ParityOptions {
  /** Tokens decoded one pass at a time (default: all of the reference's). */
  decodeSteps?: number;
  storeRoot?: string;
  /** Allow the fused one-token decode path (default true; false forces the unfused ops). */
  fusedDecode?: boolean;
}

function argmax(x: Float32Array, off = 0, n = x.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
  return best;
}

export async function runParity(ctx: GpuContext, modelDir: string, quantization: 'f32' | 'q8' | 'q4', opts: ParityOptions = {}): Promise<ParityReport> {
  const ref = await readReference(join(modelDir, 'reference.safetensors'));
  const V = ref.vocab;
  const T = ref.promptIds.length;
  const N = ref.greedyIds.length;
  const steps = Math.min(opts.decodeSteps ?? N, N);
  const root = opts.storeRoot ?? (await mkdtemp(join(tmpdir(), 'lumen-parity-')));
  const store = new FsTensorStore(root);
  const id = `parity-${quantization}`;
  let model: LlamaModel | null = null;
  try {
    const t0 = performance.now();
    await convertModel(store, id, dirFileSource(modelDir), { quantization: policyFor(quantization) }, () => {});
    const t1 = performance.now();
    model = await LlamaModel.load(ctx, store, id, () => {}, new AbortController().signal, { capacity: T + N + 8, maxChunk: T + N, fusedDecode: opts.fusedDecode ?? true });
    await ctx.device.queue.onSubmittedWorkDone();
    const t2 = performance.now();

    // 1. Prefill path, teacher-forced: prompt + greedy[0..N-2] in one pass, logits of every row.
    model.kv.reset();
    const seq = [...ref.promptIds, ...ref.greedyIds.slice(0, N - 1)];
    const all = await model.stepLogits(seq, 'all'); // (T + N - 1, V)
    const firstRef = T - ref.promptRows; // prompt rows the reference holds start here
    const prompt = logitError(all.subarray(firstRef * V, T * V), ref.promptLogits);
    const stepRows = all.subarray((T - 1) * V, (T - 1 + N) * V);
    const step = logitError(stepRows, ref.stepLogits);
    let argmaxAgree = 0;
    for (let i = 0; i < N; i++) if (argmax(stepRows, i * V, V) === ref.greedyIds[i]) argmaxAgree++;

    // 2. Decode path, free running: the real decoding loop (GPU argmax, one u32 per step).
    model.kv.reset();
    const ours: number[] = [];
    const it = generateTokens(model, ref.promptIds, {
      sampling: { ...defaultSampling, temperature: 0, maxNewTokens: steps },
      eosIds: new Set(),
      signal: new AbortController().signal,
    });
    for await (const tok of it) ours.push(tok);
    let agree = 0;
    while (agree < ours.length && ours[agree] === ref.greedyIds[agree]) agree++;

    // 3. Decode path logits, teacher-forced, for the same number of steps.
    model.kv.reset();
    const dec = new Float32Array(steps * V);
    if (steps > 0) dec.set(await model.stepLogits(ref.promptIds, 'last'), 0);
    for (let i = 1; i < steps; i++) dec.set(await model.stepLogits([ref.greedyIds[i - 1]], 'last'), i * V);
    const decode = steps > 0 ? logitError(dec, ref.stepLogits.subarray(0, steps * V)) : { max: 0, mean: 0 };

    return {
      model: modelDir.split('/').filter(Boolean).pop() ?? modelDir,
      quantization,
      promptTokens: T,
      prefill: { promptMax: prompt.max, promptMean: prompt.mean, stepMax: step.max, stepMean: step.mean, argmaxAgree },
      greedy: { ours, reference: ref.greedyIds.slice(0, steps), agree },
      decode: { ...decode, steps },
      decodeLogits: dec,
      fusedDecode: model.fwd.fused !== null,
      decodeDispatches: model.dispatchCount(1),
      installMs: t1 - t0,
      loadMs: t2 - t1,
    };
  } finally {
    model?.destroy();
    if (!opts.storeRoot) await rm(root, { recursive: true, force: true });
  }
}
