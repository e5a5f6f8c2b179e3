// The engine eval on real hardware-independent pieces: the shipped demo model through our
// Idefics3 session on Dawn (SwiftShader here) answers two held-out items exactly as transformers
// did on the GPU host (fixtures/heldout-mini, made by make_engine_fixture.py from the committed
// results), reports tokens per step from the engine's stats, and refuses the options whose
// engine features (HiRED budget, PPD drafts) do not exist yet.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { compareWithTransformers, EvalOptionError, readHeldout, runEngineEval, type EngineEvalReport } from './engine-eval';

const modelDir = join(__dirname, '../../public/models/lumen-demo');
const heldoutDir = join(__dirname, 'fixtures/heldout-mini');
const have = existsSync(join(modelDir, 'model.safetensors'));

let ctx: GpuContext;
let report: EngineEvalReport;

describe.skipIf(!have)('engine eval (lumen-demo on Dawn)', () => {
  beforeAll(async () => {
    ctx = await createGpuContext(await nodeGpu());
    report = await runEngineEval(ctx, { modelDir, heldoutDir, maxNewTokens: 8, quantization: 'f32' });
  }, 180_000);

  afterAll(() => ctx?.destroy());

  it('answers like transformers on the same pixels and scores like heldout_metrics', () => {
    const expected = readFileSync(join(heldoutDir, 'heldout.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { transformers: string; answer: string; question: string; type: string });
    expect(report.rows.map((r) => r.prediction)).toEqual(expected.map((e) => e.transformers));
    for (const [i, r] of report.rows.entries()) {
      expect(r.scores.exact).toBe(r.prediction === expected[i].answer ? 1 : 0);
      expect(r.stats.visualTokens).toBe(13 * 16); // 3 x 4 tiles + the global image
    }
    expect(Object.keys(report.summary).sort()).toEqual(['position', 'shape']);
    expect(report.tokensPerStep).toBe(1);
    expect(report.selected).toBe(2);
  });

  it('compares with a transformers report row by row', () => {
    const ref = { rows: [] as Array<{ type: string; question: string; prediction: string }> };
    for (const r of report.rows) ref.rows[r.index] = { type: r.type, question: r.question, prediction: r.prediction };
    const same = compareWithTransformers(report.rows, ref);
    expect(Object.values(same).map((c) => c.same)).toEqual([1, 1]);
    ref.rows[report.rows[0].index] = { ...ref.rows[report.rows[0].index], prediction: 'purple' };
    expect(compareWithTransformers(report.rows, ref)[report.rows[0].type].differing).toHaveLength(1);
    expect(() => compareWithTransformers(report.rows, { rows: [] })).toThrow(/another held-out set/);
  });

  it('refuses HiRED and PPD options until the engine has them', async () => {
    await expect(runEngineEval(ctx, { modelDir, heldoutDir, maxNewTokens: 4, quantization: 'f32', visualTokenBudget: 64 })).rejects.toThrow(EvalOptionError);
    await expect(runEngineEval(ctx, { modelDir, heldoutDir, maxNewTokens: 4, quantization: 'f32', draftTokens: 3 })).rejects.toThrow(EvalOptionError);
    expect((await readHeldout(heldoutDir, 1)).map((it) => it.type)).toEqual(['shape', 'position']);
  });
});
