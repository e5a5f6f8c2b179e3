// Command line of the engine eval (bundled to dist-eval/engine-eval.mjs by tools/eval/build.mjs
// for the GPU host's plain Node + Dawn; runs unbundled under tsx/vitest here too):
//   node dist-eval/engine-eval.mjs --model DIR --heldout DIR [--max-new-tokens 100]
//        [--quant f32|q8|q4] [--per-type N] [--time-budget S] [--out report.json] [--compare eval.json]
//        [--visual-token-budget N] [--draft-tokens K]   (HiRED / PPD: refused until the engine has them)
// Prints one line per question type in eval_transformers.py's format, the tokens per decoding
// step measured by the engine, and with --compare how many answers equal transformers' on the
// same items (and the ones that differ).
import { readFileSync, writeFileSync } from 'node:fs';
import { createGpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { compareWithTransformers, runEngineEval, type EngineEvalOptions } from './engine-eval';
import { runMain } from '../cli';

function parse(argv: string[]): EngineEvalOptions & { out?: string; compare?: string } {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} takes a positive integer, got "${v}".`);
    return n;
  };
  const modelDir = get('model');
  const heldoutDir = get('heldout');
  if (!modelDir || !heldoutDir) throw new Error('usage: engine-eval --model DIR --heldout DIR [--max-new-tokens N] [--quant f32|q8|q4] [--per-type N] [--out FILE] [--compare eval.json]');
  const quant = get('quant') ?? 'f32';
  if (quant !== 'f32' && quant !== 'q8' && quant !== 'q4') throw new Error(`--quant takes f32, q8 or q4, got "${quant}".`);
  return {
    modelDir,
    heldoutDir,
    maxNewTokens: num('max-new-tokens') ?? 100,
    quantization: quant,
    perType: num('per-type'),
    timeBudgetSeconds: num('time-budget'),
    visualTokenBudget: num('visual-token-budget'),
    draftTokens: num('draft-tokens'),
    out: get('out'),
    compare: get('compare'),
  };
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const ctx = await createGpuContext(await nodeGpu());
  console.log(`engine eval on ${ctx.caps.description || ctx.caps.architecture} (${ctx.caps.vendor}), ${opts.quantization} weights`);
  const report = await runEngineEval(ctx, {
    ...opts,
    onRow: (r, done, total) => {
      if (done % 50 === 0 || done === total) console.log(`  ${done}/${total} answered`);
      if (r.scores.exact === 0 && done <= 12) console.log(`  miss [${r.type}] ${JSON.stringify(r.question)}: got ${JSON.stringify(r.prediction)}, want ${JSON.stringify(r.answer)}`);
    },
  });
  console.log(`held-out eval of ${opts.modelDir} with our engine: ${report.rows.length} of ${report.selected} questions in ${report.seconds.toFixed(1)}s`);
  for (const [t, agg] of Object.entries(report.summary)) {
    const extra = Object.entries(agg).filter(([k]) => k !== 'n' && k !== 'exact').map(([k, v]) => ` ${k} ${v.toFixed(3)}`).join('');
    console.log(`  ${t.padEnd(9)} n=${String(agg.n).padStart(4)} exact ${agg.exact.toFixed(3)}${extra}`);
  }
  console.log(`  tokens per decoding step (engine stats): ${report.tokensPerStep.toFixed(3)}; visual-token budget: none (all tokens)`);
  let comparison = null;
  if (opts.compare) {
    comparison = compareWithTransformers(report.rows, JSON.parse(readFileSync(opts.compare, 'utf8')));
    for (const [t, c] of Object.entries(comparison)) {
      console.log(`  same answer as transformers [${t}]: ${c.same}/${c.n}`);
      for (const d of c.differing.slice(0, 5)) console.log(`    #${d.index}: ours ${JSON.stringify(d.ours)} | transformers ${JSON.stringify(d.transformers)}`);
    }
  }
  if (opts.out) writeFileSync(opts.out, JSON.stringify({ adapter: ctx.caps.description || ctx.caps.architecture, ...report, comparison }, null, 1));
  ctx.destroy();
}

runMain(main);
