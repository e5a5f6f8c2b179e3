// Node-only: a WebGPU `GPU` from Dawn (the `webgpu` package), for tests and benchmarks.
// Never imported by browser code. Uses $DAWN_NODE_PATH when set (the bundled bench on the GPU
// host has no node_modules); otherwise the package, pointed at SwiftShader when no Vulkan
// driver is configured. The created GPU object is kept alive for the process lifetime (Dawn
// aborts the process if it is garbage-collected while an adapter is in use).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
let kept: GPU | null = null;

/** The process-wide Dawn GPU object (created on first call). */
export async function nodeGpu(flags: string[] = []): Promise<GPU> {
  if (kept) return kept;
  let mod: DawnModule;
  const path = process.env.DAWN_NODE_PATH;
  if (path) {
    mod = createRequire(import.meta.url)(path) as DawnModule;
  } else {
    if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
    mod = (await import('webgpu')) as unknown as DawnModule;
  }
  Object.assign(globalThis, mod.globals);
  kept = mod.create(flags);
  return kept;
}
