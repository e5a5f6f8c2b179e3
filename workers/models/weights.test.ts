// Loading installed tensors into GPU buffers on real WebGPU (Dawn on SwiftShader): a tiny
// Llama installed into the Node file store is streamed chunk by chunk into buffers, and read
// back byte-identical to the stored bytes; part bindings point at the aligned q4 scales; and an
// uploaded q4 tensor drives the real GEMV op, matching the CPU product with the source weights.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../gpu/test-context';
import { Recorder } from '../gpu/recorder';
import { createGemv } from '../ops/gemv';
import { matmulAbsRef, matmulRef, maxScaledError, randomF32 } from '../ops/reference/matmul';
import { createF32, readF32, uploadF32 } from '../ops/types';
import { ModelNotInstalledError } from '../protocol/errors';
import { convertModel, policyFor } from '../storage/convert';
import { memoryFileSource, modelFiles, modelTensors, tinyLlamaConfig } from '../storage/fixtures';
import { dequantize } from '../storage/quant';
import { readTensorChunks, tensorMeta } from '../storage/tensor-store';
import type { ModelManifest } from '../storage/tensor-store';
import { FsTensorStore } from '../storage/tensor-store-fs';
import { uploadModel, uploadTensor } from './weights';

let dir: string;
let store: FsTensorStore;
let device: GPUDevice;
let manifest: ModelManifest;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lumen-weights-'));
  store = new FsTensorStore(dir);
  device = (await testContext()).device;
  manifest = await convertModel(store, 'tiny', memoryFileSource(modelFiles(tinyLlamaConfig())), { quantization: policyFor('q4'), chunkBytes: 1024 }, () => undefined);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readBack(buffer: GPUBuffer, offset: number, size: number): Promise<Uint8Array> {
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, offset, staging, 0, size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Uint8Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

async function stored(name: string): Promise<Uint8Array> {
  const meta = tensorMeta(manifest, name);
  const out = new Uint8Array(meta.byteLength);
  for await (const c of readTensorChunks(store, 'tiny', meta)) out.set(c.bytes, c.offset);
  return out;
}

describe('uploadTensor (Dawn / SwiftShader)', () => {
  it('streams a multi-chunk q4 tensor into one buffer, byte-identical', async () => {
    const meta = tensorMeta(manifest, 'layers.0.gate_up');
    expect(meta.chunkSha256.length).toBeGreaterThan(2);
    let last = 0;
    const t = await uploadTensor(device, store, 'tiny', 'layers.0.gate_up', { usage: GPUBufferUsage.COPY_SRC, onBytes: (n) => (last = n) });
    expect(last).toBe(meta.byteLength);
    const gpuBytes = await readBack(t.buffer, 0, meta.byteLength);
    expect(Buffer.from(gpuBytes).equals(Buffer.from(await stored('layers.0.gate_up')))).toBe(true);
    const scales = t.binding('scales');
    expect(scales.offset! % 256).toBe(0);
    expect(scales.size).toBe((64 / 32) * 256 * 4);
    t.buffer.destroy();
  });

  it('uploads a whole model and names what is not installed', async () => {
    let done = 0;
    const { tensors } = await uploadModel(device, store, 'tiny', { usage: GPUBufferUsage.COPY_SRC, onProgress: (d) => (done = d) });
    expect(done).toBe(manifest.totalBytes);
    expect([...tensors.keys()]).toEqual(manifest.tensors.map((m) => m.name));
    const norm = tensors.get('norm')!;
    expect(Buffer.from(await readBack(norm.buffer, 0, 256)).equals(Buffer.from(await stored('norm')))).toBe(true);
    for (const t of tensors.values()) t.buffer.destroy();
    const some = await uploadModel(device, store, 'tiny', { only: (n) => n.startsWith('layers.1.') });
    expect([...some.tensors.keys()]).toEqual(['layers.1.attn_norm', 'layers.1.qkv', 'layers.1.o', 'layers.1.mlp_norm', 'layers.1.gate_up', 'layers.1.down']);
    for (const t of some.tensors.values()) t.buffer.destroy();
    await expect(uploadTensor(device, store, 'nope', 'norm')).rejects.toThrow(ModelNotInstalledError);
    await expect(uploadTensor(device, store, 'tiny', 'layers.9.qkv')).rejects.toThrow(/no tensor "layers.9.qkv"/);
    await store.putManifest({ ...manifest, modelId: 'old', format: 0 as unknown as 1 });
    await expect(uploadTensor(device, store, 'old', 'norm')).rejects.toThrow(/engine format 0, this one reads 1\). Remove it and install it again/);
  });

  it('an uploaded q4 weight drives the GEMV op like the source weights (within q4 error)', async () => {
    const ctx = await testContext();
    const w = await uploadTensor(ctx.device, store, 'tiny', 'layers.1.gate_up');
    const [n, k] = w.shape;
    const src = modelTensors(tinyLlamaConfig());
    const gate = src.find((t) => t.name === 'model.layers.1.mlp.gate_proj.weight')!.data;
    const up = src.find((t) => t.name === 'model.layers.1.mlp.up_proj.weight')!.data;
    const wSrc = new Float32Array(n * k);
    wSrc.set(gate);
    wSrc.set(up, gate.length);
    const packedBytes = await stored('layers.1.gate_up');
    const meta = tensorMeta(manifest, 'layers.1.gate_up');
    const wDeq = dequantize({ kind: 'q4', rows: n, cols: k, qweight: new Uint32Array(packedBytes.buffer, 0, meta.parts[0].byteLength / 4), scales: new Float32Array(packedBytes.buffer, meta.parts[1].offset, meta.parts[1].byteLength / 4) });
    const xs = randomF32(k, 7);
    const x = uploadF32(ctx, xs, [k]);
    const y = createF32(ctx, [n]);
    const rec = new Recorder(ctx);
    createGemv(ctx, { w, x, y }).record(rec);
    await rec.submitAndWait();
    const got = await readF32(ctx, y);
    // Exactly the dequantized stored weight's product (f32 summation-order noise only)...
    expect(maxScaledError(got, matmulRef(xs, wDeq, 1, n, k), matmulAbsRef(xs, wDeq, 1, n, k))).toBeLessThan(1e-5);
    // ...and close to the source weights' product (q4 rounding: well under 10% of sum |w x|).
    expect(maxScaledError(got, matmulRef(xs, wSrc, 1, n, k), matmulAbsRef(xs, wSrc, 1, n, k))).toBeLessThan(0.1);
    w.buffer.destroy();
  });
});
