// CI parity against PyTorch transformers on the committed tiny fixtures (2 layers, hidden 64,
// vocab 256; Llama, and Qwen2 with QKV bias), on real WebGPU (Dawn on SwiftShader in Node).
// f32 weights: every logit within 2e-3 absolute of the oracle's (logits have std ~2.6, so that
// is ~1e-3 relative; f32 kernels differ from torch only in summation order), all 32 greedy
// tokens reproduced (teacher-forced argmax on the prefill path), and the first DECODE_STEPS
// tokens from the real decoding loop. The decode path is kept short here because the GEMV
// kernels are slow on SwiftShader; the GPU host runs all 32 (tools/parity/run.ts).
// q8 / q4: quantization error is expected; the bounds below are loose regression guards and the
// numbers are printed for docs/BENCHMARKS.md.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { runParity, type ParityReport } from './parity';

const F32_TOL = 2e-3;
const DECODE_STEPS = 8;
let ctx: GpuContext;

beforeAll(async () => {
  ctx = await createGpuContext(await nodeGpu());
});
afterAll(() => ctx?.destroy());

function summary(r: ParityReport) {
  return {
    q: r.quantization,
    stepArgmaxAgree: r.prefill.argmaxAgree,
    stepMax: +r.prefill.stepMax.toFixed(4),
    stepMean: +r.prefill.stepMean.toFixed(4),
    greedy: r.greedy.agree,
    decodeMax: +r.decode.max.toFixed(4),
  };
}

for (const name of ['tiny-llama', 'tiny-qwen2']) {
  describe(`parity ${name}`, () => {
    const dir = join(__dirname, 'fixtures', name);

    it('f32 matches transformers: logits and 32 greedy tokens', async () => {
      const r = await runParity(ctx, dir, 'f32', { decodeSteps: DECODE_STEPS });
      console.log(JSON.stringify({ name, ...summary(r) }));
      expect(r.prefill.promptMax).toBeLessThan(F32_TOL);
      expect(r.prefill.stepMax).toBeLessThan(F32_TOL);
      expect(r.prefill.argmaxAgree).toBe(32);
      expect(r.greedy.ours).toEqual(r.greedy.reference);
      expect(r.decode.steps).toBe(DECODE_STEPS);
      expect(r.decode.max).toBeLessThan(F32_TOL);
    });

    it('q8 stays close to the oracle; q4 is reported', async () => {
      const q8 = await runParity(ctx, dir, 'q8', { decodeSteps: 3 });
      const q4 = await runParity(ctx, dir, 'q4', { decodeSteps: 2 });
      console.log(JSON.stringify({ name, q8: summary(q8), q4: summary(q4) }));
      expect(q8.prefill.stepMean).toBeLessThan(0.1);
      expect(q8.decode.max).toBeLessThan(1);
      expect(q4.prefill.stepMean).toBeLessThan(1.0);
      // The weights really were quantized, and q4 loses more than q8.
      expect(q8.prefill.stepMean).toBeGreaterThan(1e-4);
      expect(q4.prefill.stepMean).toBeGreaterThan(q8.prefill.stepMean);
    });

    it('q8: the fused one-token decode path gives the unfused path\'s logits and tokens', async () => {
      const fused = await runParity(ctx, dir, 'q8', { decodeSteps: 3 });
      const plain = await runParity(ctx, dir, 'q8', { decodeSteps: 3, fusedDecode: false });
      expect(fused.fusedDecode).toBe(true); // quantized M = 1 matmuls are GEMVs on every adapter
      expect(plain.fusedDecode).toBe(false);
      // 2 layers: 9 dispatches each unfused, 5 fused (norms, SiLU·mul, residual adds and RoPE + KV
      // write folded into the GEMVs), and the final norm folded into the LM head.
      expect(plain.decodeDispatches - fused.decodeDispatches).toBe(2 * 4 + 1);
      let diff = 0;
      for (let i = 0; i < fused.decodeLogits.length; i++) diff = Math.max(diff, Math.abs(fused.decodeLogits[i] - plain.decodeLogits[i]));
      console.log(JSON.stringify({ name, fusedVsUnfusedDecodeMax: diff }));
      expect(diff).toBeLessThan(1e-4);
      expect(fused.greedy.ours).toEqual(plain.greedy.ours);
    });
  });
}
