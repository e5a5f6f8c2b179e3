// Loading installed tensors into GPU buffers on real WebGPU (Dawn on SwiftShader): a tiny
// Llama installed into the Node file store is streamed chunk by chunk into buffers, and read
// back byte-identical to the stored bytes; part bindings point at the aligned q4 scales.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeGpu } from '../gpu/node';
import { ModelNotInstalledError } from '../protocol/errors';
import { convertModel, policyFor } from '../storage/convert';
import { memoryFileSource, modelFiles, tinyLlamaConfig } from '../storage/fixtures';
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
  const gpu = await nodeGpu();
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (SwiftShader ICD missing?)');
  device = await adapter.requestDevice();
  manifest = await convertModel(store, 'tiny', memoryFileSource(modelFiles(tinyLlamaConfig())), { quantization: policyFor('q4'), chunkBytes: 1024 }, () => undefined);
});
afterAll(async () => {
  device?.destroy();
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
    await expect(uploadTensor(device, store, 'nope', 'norm')).rejects.toThrow(ModelNotInstalledError);
    await expect(uploadTensor(device, store, 'tiny', 'layers.9.qkv')).rejects.toThrow(/no tensor "layers.9.qkv"/);
  });
});
