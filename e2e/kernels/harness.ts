// Kernel parity harness page for Playwright (e2e/kernels.spec.ts): bundled on the fly by the
// spec with esbuild and served through page.route, so it never ships with the app. Exposes
// window.runKernelCases(suite) → KernelCaseResult[] on a real navigator.gpu. Other op families
// register their suite in SUITES.
import { createGpuContext, type GpuContext } from '../../workers/gpu/context';
import { runMatmulCases, type KernelCaseResult } from '../../workers/ops/matmul-cases';
import { runOpsCases } from '../../workers/ops/attention-cases';

const SUITES: Record<string, (ctx: GpuContext) => Promise<KernelCaseResult[]>> = {
  matmul: runMatmulCases,
  ops: runOpsCases,
};

async function runKernelCases(suite: string): Promise<KernelCaseResult[]> {
  const run = SUITES[suite];
  if (!run) throw new Error(`unknown kernel suite "${suite}" (have ${Object.keys(SUITES).join(', ')})`);
  const ctx = await createGpuContext(navigator.gpu);
  try {
    return await run(ctx);
  } finally {
    ctx.destroy();
  }
}

Object.assign(window, { runKernelCases, kernelSuites: Object.keys(SUITES) });
