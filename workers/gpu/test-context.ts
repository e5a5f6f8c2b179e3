// Test helper (Node only): one shared GpuContext on Dawn (SwiftShader here, the real GPU on the
// GPU host), created once per test file.
import { createGpuContext, type GpuContext } from './context';
import { nodeGpu } from './node';

let shared: Promise<GpuContext> | null = null;

export function testContext(): Promise<GpuContext> {
  shared ??= nodeGpu().then((gpu) => createGpuContext(gpu));
  return shared;
}
