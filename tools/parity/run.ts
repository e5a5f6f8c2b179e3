// GPU-host parity runner (bundled to dist-bench/parity.mjs by tools/bench/build.mjs): for each
// oracle model directory written by make_reference.py, runs our engine at f32, q8 and q4 and
// prints one JSON line per run (logit errors, greedy agreement, install/load times).
// --compare-unfused: each quantization also runs with the fused decode path off and reports the
// largest decode-logit difference between the two paths.
// Usage: node dist-bench/parity.mjs DIR [DIR...] [--quants f32,q8,q4] [--json FILE] [--compare-unfused]
import { writeFileSync } from 'node:fs';
import { createGpuContext } from '../../workers/gpu/context';
import { nodeGpu } from '../../workers/gpu/node';
import { runParity, type ParityReport } from './parity';
import { runMain } from '../cli';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const qi = argv.indexOf('--quants');
  const quants = (qi >= 0 ? argv[qi + 1] : 'f32,q8,q4').split(',') as Array<'f32' | 'q8' | 'q4'>;
  const ji = argv.indexOf('--json');
  const jsonPath = ji >= 0 ? argv[ji + 1] : null;
  const optionValues = new Set([qi, ji].filter((i) => i >= 0).map((i) => i + 1));
  const compare = argv.includes('--compare-unfused');
  const dirs = argv.filter((a, i) => !a.startsWith('--') && !optionValues.has(i));
  const ctx = await createGpuContext(await nodeGpu());
  console.log(JSON.stringify({ adapter: ctx.caps.description || ctx.caps.architecture, vendor: ctx.caps.vendor }));
  const out: Array<Omit<ParityReport, 'decodeLogits'> & { fusedVsUnfusedMax?: number }> = [];
  for (const dir of dirs) {
    for (const q of quants) {
      const { decodeLogits, ...r } = await runParity(ctx, dir, q);
      let fusedVsUnfusedMax: number | undefined;
      if (compare) {
        const plain = await runParity(ctx, dir, q, { fusedDecode: false });
        fusedVsUnfusedMax = 0;
        for (let i = 0; i < decodeLogits.length; i++) fusedVsUnfusedMax = Math.max(fusedVsUnfusedMax, Math.abs(decodeLogits[i] - plain.decodeLogits[i]));
      }
      out.push({ ...r, fusedVsUnfusedMax });
      const { greedy, ...rest } = r;
      console.log(JSON.stringify({ ...rest, fusedVsUnfusedMax, greedyAgree: greedy.agree, ours: greedy.ours.join(' '), ref: greedy.reference.join(' ') }));
    }
  }
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify(out, null, 1));
  ctx.destroy();
}

runMain(main);
