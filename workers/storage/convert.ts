// Install-time conversion of a downloaded model (config.json + safetensors) into the engine
// format in a TensorStore: validate every tensor the config implies (presence, shape, dtype)
// BEFORE touching the store, then convert one engine tensor at a time (read in row blocks of a
// few MiB, quantize per class, concatenate q/k/v and gate/up), and write the manifest last.
// Platform-neutral: the browser entry is install.ts (IndexedDB), Node tests/bench call this.
import { ModelFormatError } from '../protocol/errors';
import { parseModelConfigBytes } from './model-config';
import type { ModelConfig } from './model-config';
import { GROUP_SIZE, wordsPerGroup } from './quant';
import type { QuantKind } from './quant';
import { quantizeRowsInto } from './quantize-into';
import { DECODABLE_DTYPES, openSafetensors } from './safetensors';
import type { SafetensorsSet } from './safetensors';
import { PPD_TENSOR, nameCandidates, planTensors, ppdTensor } from './tensor-plan';
import type { PlannedTensor, TensorClass } from './tensor-plan';
import { ENGINE_FORMAT, PART_ALIGN, alignUp, throwIfAborted, writeTensor } from './tensor-store';
import type { ModelManifest, QuantizationPolicy, StoredKind, TensorMeta, TensorPart, TensorStore } from './tensor-store';
import type { FileSource } from './types';

export interface ConvertOptions {
  quantization: QuantizationPolicy;
  sourceRevision?: string | null;
  /** Stored chunk size (default 4 MiB). */
  chunkBytes?: number;
  /** Upper bound on f32 bytes decoded per read (default 8 MiB). */
  blockBytes?: number;
}

/** The policy a catalogue entry's single quantization choice stands for. */
export function policyFor(choice: 'q4' | 'q8' | 'f32'): QuantizationPolicy {
  if (choice === 'f32') return { linear: 'f32', embed: 'f32', vision: 'f32' };
  return { linear: choice, embed: 'q8', vision: choice };
}

function kindFor(cls: TensorClass, policy: QuantizationPolicy): StoredKind {
  switch (cls) {
    case 'linear':
      return policy.linear;
    case 'embed':
    case 'lm_head':
      return policy.embed;
    case 'vision_linear':
      return policy.vision;
    case 'patch_embed':
    case 'pos_embed':
    case 'prompt_embed':
    case 'norm':
    case 'bias':
      return 'f32';
  }
}

/** Planned tensors with resolved source names; throws ModelFormatError on the first problem. */
function validate(plan: PlannedTensor[], set: SafetensorsSet): PlannedTensor[] {
  return plan.map((t) => ({
    ...t,
    sources: t.sources.map((s) => {
      const hf = nameCandidates(s.hf).find((n) => set.has(n));
      if (!hf) throw new ModelFormatError(`Missing tensor "${s.hf}" (needed for ${t.name}): the weights do not match config.json. Download the model again or choose a compatible repository.`);
      const info = set.info(hf);
      if (info.shape.length !== s.shape.length || info.shape.some((d, i) => d !== s.shape[i])) {
        throw new ModelFormatError(`Tensor "${hf}" has shape [${info.shape.join(', ')}] but config.json implies [${s.shape.join(', ')}]: the weights and the config disagree.`);
      }
      if (!(DECODABLE_DTYPES as readonly string[]).includes(info.dtype)) {
        throw new ModelFormatError(`Tensor "${hf}" has dtype ${info.dtype}; Lumen can only convert ${DECODABLE_DTYPES.join(', ')} weights. Choose the repository's f32/f16/bf16 safetensors.`);
      }
      return { hf, shape: s.shape };
    }),
  }));
}

function rowsOf(shape: number[]): number {
  return shape.length === 0 ? 1 : shape[0];
}

/** Stored layout of an engine tensor: f32 row-major, or packed q4/q8 (quant.ts) + scales at an aligned offset. */
export interface TensorLayout {
  dtype: StoredKind;
  parts: TensorPart[];
  byteLength: number;
}

/** Matrices whose K is a multiple of 32 take the requested kind; everything else stays f32. */
export function tensorLayout(shape: number[], kind: StoredKind): TensorLayout {
  const N = rowsOf(shape);
  const K = shape.length <= 1 ? 1 : shape.slice(1).reduce((a, b) => a * b, 1);
  if (kind === 'f32' || shape.length !== 2 || K % GROUP_SIZE !== 0) {
    return { dtype: 'f32', parts: [{ name: 'data', offset: 0, byteLength: N * K * 4 }], byteLength: N * K * 4 };
  }
  const G = K / GROUP_SIZE;
  const qBytes = G * N * wordsPerGroup(kind) * 4;
  const scalesOffset = alignUp(qBytes, PART_ALIGN);
  return {
    dtype: kind,
    parts: [{ name: 'qweight', offset: 0, byteLength: qBytes }, { name: 'scales', offset: scalesOffset, byteLength: G * N * 4 }],
    byteLength: scalesOffset + G * N * 4,
  };
}

/** Builds one engine tensor's bytes; calls onElements(n) as source rows are consumed. */
async function buildTensor(
  set: SafetensorsSet,
  t: PlannedTensor,
  layout: TensorLayout,
  blockBytes: number,
  onElements: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const N = rowsOf(t.shape);
  const K = t.shape.length <= 1 ? 1 : t.shape.slice(1).reduce((a, b) => a * b, 1);
  const quant = layout.dtype === 'f32' ? null : (layout.dtype as QuantKind);
  const blockRows = Math.max(1, Math.floor(blockBytes / (K * 4)));
  const buf = new ArrayBuffer(layout.byteLength);
  const f32 = quant ? null : new Float32Array(buf);
  const qw = quant ? new Uint32Array(buf, 0, layout.parts[0].byteLength / 4) : null;
  const sc = quant ? new Float32Array(buf, layout.parts[1].offset, layout.parts[1].byteLength / 4) : null;
  let row = 0; // global output row of the next block
  for (const s of t.sources) {
    const rows = rowsOf(s.shape);
    for (let r0 = 0; r0 < rows; r0 += blockRows) {
      throwIfAborted(signal);
      const r1 = Math.min(rows, r0 + blockRows);
      const B = r1 - r0;
      const block = await set.readRows(s.hf, r0, r1); // (B, K)
      let finite = true;
      if (f32) {
        f32.set(block, row * K);
        for (let i = 0; i < block.length; i++) if (!Number.isFinite(block[i])) finite = false;
      } else if (quant && qw && sc) {
        finite = quantizeRowsInto(quant, block, B, K, N, row, qw, sc);
      }
      if (!finite) throw new ModelFormatError(`Tensor "${s.hf}" contains NaN or infinite values (rows ${r0}..${r1 - 1}); the checkpoint is damaged. Download the model again.`);
      row += B;
      onElements(B * K);
    }
  }
  if (row !== N) throw new ModelFormatError(`Internal: ${t.name} assembled ${row} of ${N} rows.`);
  return new Uint8Array(buf);
}

async function readConfig(source: FileSource): Promise<Uint8Array> {
  const files = await source.list();
  if (!files.includes('config.json')) throw new ModelFormatError('The model has no config.json; Lumen needs it to know the architecture. Download the model again.');
  return source.read('config.json', 0, await source.size('config.json'));
}

/** What an install will produce, known from config.json and the safetensors headers alone. */
export interface InstallPlan {
  config: ModelConfig;
  tied: boolean;
  ppdPromptTokens: number;
  tensors: (PlannedTensor & { layout: TensorLayout })[];
  /** Bytes the engine-format tensors will occupy. */
  totalBytes: number;
  /** Source elements to convert (the progress total). */
  totalElements: number;
}

/** Reads the config and headers, validates every tensor, and lays out the result. Writes nothing. */
export async function planInstall(source: FileSource, quantization: QuantizationPolicy): Promise<InstallPlan & { set: SafetensorsSet }> {
  const config = parseModelConfigBytes(await readConfig(source));
  const set = await openSafetensors(source);
  const hasLmHead = nameCandidates('lm_head.weight').some((n) => set.has(n));
  const { tensors: planned, tied } = planTensors(config, hasLmHead);
  // PPD prompt embeddings [k, hidden], when shipped: k comes from the file, the width from the config.
  const ppd = set.has(PPD_TENSOR) ? set.info(PPD_TENSOR).shape : null;
  const ppdK = ppd && ppd.length === 2 && ppd[0] > 0 ? ppd[0] : ppd ? -1 : 0;
  if (ppdK < 0) throw new ModelFormatError(`${PPD_TENSOR} has shape [${ppd!.join(', ')}]; expected [k, ${config.text.hiddenSize}]. Remove ppd.safetensors or replace it.`);
  if (ppdK > 0) planned.push(ppdTensor(config, ppdK));
  const tensors = validate(planned, set).map((t) => ({ ...t, layout: tensorLayout(t.shape, kindFor(t.cls, quantization)) }));
  return {
    config: tied === config.text.tieWordEmbeddings ? config : { ...config, text: { ...config.text, tieWordEmbeddings: tied } },
    tied,
    ppdPromptTokens: ppdK,
    tensors,
    totalBytes: tensors.reduce((a, t) => a + t.layout.byteLength, 0),
    totalElements: tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0),
    set,
  };
}

/**
 * Converts `source` into `store` under `modelId`. Validation errors (and a `beforeWrite` hook
 * that throws, e.g. a quota check) leave the store untouched, so an older install stays usable;
 * once writing starts, any old install is removed first, and an error or abort removes what was
 * written (best effort: a crash is cleaned by the next run).
 */
export async function convertModel(
  store: TensorStore,
  modelId: string,
  source: FileSource,
  opts: ConvertOptions & { beforeWrite?: (plan: InstallPlan) => Promise<void> },
  onProgress: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<ModelManifest> {
  throwIfAborted(signal);
  const plan = await planInstall(source, opts.quantization);
  const total = plan.totalElements;
  let done = 0;
  onProgress(0, total);
  await opts.beforeWrite?.(plan);
  throwIfAborted(signal);

  await store.deleteModel(modelId); // not ready from here on; clears any partial install
  try {
    const metas: TensorMeta[] = [];
    for (const t of plan.tensors) {
      const bytes = await buildTensor(plan.set, t, t.layout, opts.blockBytes ?? 8 << 20, (n) => {
        done += n;
        onProgress(done, total);
      }, signal);
      metas.push(await writeTensor(store, modelId, { name: t.name, cls: t.cls, shape: t.shape, dtype: t.layout.dtype, parts: t.layout.parts }, bytes, signal, opts.chunkBytes));
    }
    throwIfAborted(signal);
    const manifest: ModelManifest = {
      format: ENGINE_FORMAT,
      modelId,
      config: plan.config,
      tiedEmbeddings: plan.tied,
      ppdPromptTokens: plan.ppdPromptTokens,
      quantization: opts.quantization,
      sourceRevision: opts.sourceRevision ?? null,
      createdAt: Date.now(),
      totalBytes: metas.reduce((a, m) => a + m.byteLength, 0),
      tensors: metas,
    };
    await store.putManifest(manifest);
    return manifest;
  } catch (err) {
    await store.deleteModel(modelId).catch(() => undefined);
    throw err;
  }
}
