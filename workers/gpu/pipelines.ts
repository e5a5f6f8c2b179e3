// Pipeline cache keyed by a typed variant key: op name + defines + workgroup size + bindings.
// Every kernel uses one bind group with the same convention:
//   @group(0) @binding(0) var<uniform> params: Params;   (dynamic offset into the params ring)
//   @group(0) @binding(1..n) storage buffers, in KernelSpec.bindings order.
// Workgroup sizes are substituted as WG_X, WG_Y, WG_Z and WG_SIZE (= X*Y*Z); capability flags
// PACKED4X8, HAS_F16, HAS_SUBGROUPS are defined from the context (a spec's defines override them).
import { LumenError } from '../protocol/errors';
import type { GpuCapabilities } from './context';
import { preprocessWgsl, type Defines } from './preprocess';
import { SNIPPETS } from './snippets';

/** 'read' = read-only storage, 'rw' = read-write storage. */
export type BindingKind = 'read' | 'rw';

export interface KernelSpec {
  /** Op family name, e.g. 'gemv_q4'. */
  op: string;
  /** Raw WGSL (shaders/*.wgsl?raw). */
  source: string;
  /** Extra snippets for #include beyond the shared ones. */
  includes?: Readonly<Record<string, string>>;
  defines?: Defines;
  workgroupSize: readonly [number, number, number];
  /** Storage bindings 1..n. */
  bindings: readonly BindingKind[];
  entryPoint?: string;
}

export interface Kernel {
  readonly key: string;
  readonly spec: KernelSpec;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly module: GPUShaderModule;
  /** The WGSL after preprocessing (for error messages and debugging). */
  readonly code: string;
}

/** Bytes every dispatch's params slot may hold (one uniform struct, ≤ 64 u32/f32 fields). */
export const PARAMS_SLOT_BYTES = 256;

export class ShaderCompileError extends LumenError {
  override name = 'ShaderCompileError';
}

export function variantKey(spec: KernelSpec): string {
  const defs = Object.entries(spec.defines ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return `${spec.op}|wg=${spec.workgroupSize.join('x')}|b=${spec.bindings.join(',')}|${defs}|${spec.entryPoint ?? 'main'}`;
}

export class PipelineCache {
  private cache = new Map<string, Kernel>();

  constructor(
    readonly device: GPUDevice,
    readonly caps: GpuCapabilities,
  ) {}

  get size(): number {
    return this.cache.size;
  }

  /** The compiled kernel for this variant (compiled on first use, synchronously). */
  get(spec: KernelSpec): Kernel {
    const key = variantKey(spec);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const [x, y, z] = spec.workgroupSize;
    const code = preprocessWgsl(
      spec.source,
      {
        defines: {
          WG_X: x,
          WG_Y: y,
          WG_Z: z,
          WG_SIZE: x * y * z,
          PACKED4X8: this.caps.packed4x8,
          HAS_F16: this.caps.shaderF16,
          HAS_SUBGROUPS: this.caps.subgroups,
          ...(spec.defines ?? {}),
        },
        includes: { ...SNIPPETS, ...(spec.includes ?? {}) },
      },
      spec.op,
    );
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: 0 } },
      ...spec.bindings.map(
        (kind, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1,
          visibility: 4,
          buffer: { type: kind === 'read' ? 'read-only-storage' : 'storage' },
        }),
      ),
    ];
    const layout = this.device.createBindGroupLayout({ entries, label: spec.op });
    const module = this.device.createShaderModule({ code, label: key });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: spec.entryPoint ?? 'main' },
      label: key,
    });
    const kernel: Kernel = { key, spec, pipeline, layout, module, code };
    this.cache.set(key, kernel);
    return kernel;
  }

  /** Like get(), but reports WGSL compile errors as a ShaderCompileError (tests, first load). */
  async getChecked(spec: KernelSpec): Promise<Kernel> {
    this.device.pushErrorScope('validation');
    const k = this.get(spec);
    const info = await k.module.getCompilationInfo();
    const err = await this.device.popErrorScope();
    const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    if (err || msgs.length) {
      this.cache.delete(k.key);
      throw new ShaderCompileError(`Kernel ${k.key} failed to compile: ${[err?.message, ...msgs].filter(Boolean).join('; ')}`);
    }
    return k;
  }
}
