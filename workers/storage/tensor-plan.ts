// The engine-format tensor list a model config implies: engine names, tensor classes, and the
// Hugging Face tensors (with the shapes the config requires) each one is built from. q/k/v are
// concatenated along the output dimension into one `qkv` weight (and bias), gate/up into one
// `gate_up`, so the forward runs one GEMV for each. Pure data, no I/O.
//
// Engine names (L = layer index; all weights row-major [out, in] = [N, K]):
//   embed                      [vocab, hidden]            class embed   (gathered rows; also the tied lm_head)
//   layers.L.attn_norm         [hidden]                   norm
//   layers.L.qkv               [(nH + 2 nKV) hd, hidden]  linear        rows: q (nH hd), k (nKV hd), v (nKV hd)
//   layers.L.qkv_bias          [(nH + 2 nKV) hd]          bias          (Qwen2, Llama attention_bias)
//   layers.L.o                 [hidden, nH hd]            linear
//   layers.L.o_bias            [hidden]                   bias          (Llama attention_bias)
//   layers.L.mlp_norm          [hidden]                   norm
//   layers.L.gate_up           [2 inter, hidden]          linear        rows: gate (inter), up (inter)
//   layers.L.down              [hidden, inter]            linear
//   norm                       [hidden]                   norm
//   lm_head                    [vocab, hidden]            lm_head       (absent when tied: use `embed`)
// Idefics3 adds (V = vision layer, vh = vision hidden, P = patch, C = channels, s = scale factor):
//   vision.patch_embed         [vh, C P P]                patch_embed   (conv kernel flattened (c, ky, kx))
//   vision.patch_embed_bias    [vh]                       bias
//   vision.pos_embed           [(image/P)^2, vh]          pos_embed
//   vision.layers.V.ln1 / ln1_bias, ln2 / ln2_bias [vh]   norm / bias
//   vision.layers.V.qkv        [3 vh, vh]                 vision_linear rows: q, k, v;  qkv_bias [3 vh]
//   vision.layers.V.o          [vh, vh]                   vision_linear;  o_bias [vh]
//   vision.layers.V.fc1        [vinter, vh]               vision_linear;  fc1_bias [vinter]
//   vision.layers.V.fc2        [vh, vinter]               vision_linear;  fc2_bias [vh]
//   vision.post_norm / post_norm_bias [vh]                norm / bias
//   connector.proj             [hidden, vh s^2]           vision_linear (no bias)
// When the repository has ppd.safetensors (Lumen's PPD prompt embeddings):
//   ppd.prompt_embeddings      [k, hidden]                prompt_embed  (f32; manifest.ppdPromptTokens = k)
import type { ModelConfig, TextModelConfig, VisionModelConfig } from './model-config';

export type TensorClass = 'linear' | 'embed' | 'lm_head' | 'vision_linear' | 'patch_embed' | 'pos_embed' | 'prompt_embed' | 'norm' | 'bias';

export interface SourcePart {
  /** Hugging Face tensor name, as expected (resolveName may find it under an alias). */
  hf: string;
  /** Shape the config implies for it. */
  shape: number[];
}

export interface PlannedTensor {
  name: string;
  cls: TensorClass;
  /** Engine shape: [N, K] for matrices (sources stacked along N), [n] for vectors. */
  shape: number[];
  sources: SourcePart[];
}

function textTensors(t: TextModelConfig, hf: string, includeLmHead: boolean): PlannedTensor[] {
  const { hiddenSize: h, numHeads: nH, numKvHeads: nKV, headDim: hd, intermediateSize: inter, vocabSize: vocab } = t;
  const out: PlannedTensor[] = [{ name: 'embed', cls: 'embed', shape: [vocab, h], sources: [{ hf: `${hf}embed_tokens.weight`, shape: [vocab, h] }] }];
  for (let l = 0; l < t.numLayers; l++) {
    const p = `${hf}layers.${l}.`;
    const e = `layers.${l}.`;
    out.push({ name: `${e}attn_norm`, cls: 'norm', shape: [h], sources: [{ hf: `${p}input_layernorm.weight`, shape: [h] }] });
    out.push({
      name: `${e}qkv`, cls: 'linear', shape: [(nH + 2 * nKV) * hd, h],
      sources: [
        { hf: `${p}self_attn.q_proj.weight`, shape: [nH * hd, h] },
        { hf: `${p}self_attn.k_proj.weight`, shape: [nKV * hd, h] },
        { hf: `${p}self_attn.v_proj.weight`, shape: [nKV * hd, h] },
      ],
    });
    if (t.qkvBias) {
      out.push({
        name: `${e}qkv_bias`, cls: 'bias', shape: [(nH + 2 * nKV) * hd],
        sources: [
          { hf: `${p}self_attn.q_proj.bias`, shape: [nH * hd] },
          { hf: `${p}self_attn.k_proj.bias`, shape: [nKV * hd] },
          { hf: `${p}self_attn.v_proj.bias`, shape: [nKV * hd] },
        ],
      });
    }
    out.push({ name: `${e}o`, cls: 'linear', shape: [h, nH * hd], sources: [{ hf: `${p}self_attn.o_proj.weight`, shape: [h, nH * hd] }] });
    if (t.oBias) out.push({ name: `${e}o_bias`, cls: 'bias', shape: [h], sources: [{ hf: `${p}self_attn.o_proj.bias`, shape: [h] }] });
    out.push({ name: `${e}mlp_norm`, cls: 'norm', shape: [h], sources: [{ hf: `${p}post_attention_layernorm.weight`, shape: [h] }] });
    out.push({
      name: `${e}gate_up`, cls: 'linear', shape: [2 * inter, h],
      sources: [
        { hf: `${p}mlp.gate_proj.weight`, shape: [inter, h] },
        { hf: `${p}mlp.up_proj.weight`, shape: [inter, h] },
      ],
    });
    out.push({ name: `${e}down`, cls: 'linear', shape: [h, inter], sources: [{ hf: `${p}mlp.down_proj.weight`, shape: [h, inter] }] });
  }
  out.push({ name: 'norm', cls: 'norm', shape: [h], sources: [{ hf: `${hf}norm.weight`, shape: [h] }] });
  if (includeLmHead) out.push({ name: 'lm_head', cls: 'lm_head', shape: [vocab, h], sources: [{ hf: 'lm_head.weight', shape: [vocab, h] }] });
  return out;
}

function vec(name: string, cls: TensorClass, hf: string, n: number): PlannedTensor {
  return { name, cls, shape: [n], sources: [{ hf, shape: [n] }] };
}

function visionTensors(v: VisionModelConfig, textHidden: number, scale: number): PlannedTensor[] {
  const { hiddenSize: vh, intermediateSize: vi, patchSize: P, numChannels: C } = v;
  const hf = 'model.vision_model.';
  const side = v.imageSize / P;
  const out: PlannedTensor[] = [
    { name: 'vision.patch_embed', cls: 'patch_embed', shape: [vh, C * P * P], sources: [{ hf: `${hf}embeddings.patch_embedding.weight`, shape: [vh, C, P, P] }] },
    vec('vision.patch_embed_bias', 'bias', `${hf}embeddings.patch_embedding.bias`, vh),
    { name: 'vision.pos_embed', cls: 'pos_embed', shape: [side * side, vh], sources: [{ hf: `${hf}embeddings.position_embedding.weight`, shape: [side * side, vh] }] },
  ];
  for (let l = 0; l < v.numLayers; l++) {
    const p = `${hf}encoder.layers.${l}.`;
    const e = `vision.layers.${l}.`;
    out.push(vec(`${e}ln1`, 'norm', `${p}layer_norm1.weight`, vh), vec(`${e}ln1_bias`, 'bias', `${p}layer_norm1.bias`, vh));
    out.push({
      name: `${e}qkv`, cls: 'vision_linear', shape: [3 * vh, vh],
      sources: ['q', 'k', 'v'].map((x) => ({ hf: `${p}self_attn.${x}_proj.weight`, shape: [vh, vh] })),
    });
    out.push({ name: `${e}qkv_bias`, cls: 'bias', shape: [3 * vh], sources: ['q', 'k', 'v'].map((x) => ({ hf: `${p}self_attn.${x}_proj.bias`, shape: [vh] })) });
    out.push({ name: `${e}o`, cls: 'vision_linear', shape: [vh, vh], sources: [{ hf: `${p}self_attn.out_proj.weight`, shape: [vh, vh] }] });
    out.push(vec(`${e}o_bias`, 'bias', `${p}self_attn.out_proj.bias`, vh));
    out.push(vec(`${e}ln2`, 'norm', `${p}layer_norm2.weight`, vh), vec(`${e}ln2_bias`, 'bias', `${p}layer_norm2.bias`, vh));
    out.push({ name: `${e}fc1`, cls: 'vision_linear', shape: [vi, vh], sources: [{ hf: `${p}mlp.fc1.weight`, shape: [vi, vh] }] });
    out.push(vec(`${e}fc1_bias`, 'bias', `${p}mlp.fc1.bias`, vi));
    out.push({ name: `${e}fc2`, cls: 'vision_linear', shape: [vh, vi], sources: [{ hf: `${p}mlp.fc2.weight`, shape: [vh, vi] }] });
    out.push(vec(`${e}fc2_bias`, 'bias', `${p}mlp.fc2.bias`, vh));
  }
  out.push(vec('vision.post_norm', 'norm', `${hf}post_layernorm.weight`, vh), vec('vision.post_norm_bias', 'bias', `${hf}post_layernorm.bias`, vh));
  const k = vh * scale * scale;
  out.push({ name: 'connector.proj', cls: 'vision_linear', shape: [textHidden, k], sources: [{ hf: 'model.connector.modality_projection.proj.weight', shape: [textHidden, k] }] });
  return out;
}

/** HF names a tensor may be stored under (some exports drop the leading "model."). */
export function nameCandidates(hf: string): string[] {
  return hf.startsWith('model.') ? [hf, hf.slice('model.'.length)] : [hf];
}

/** HF name of the PPD prompt embeddings (in ppd.safetensors). */
export const PPD_TENSOR = 'prompt_embeddings';

/** The PPD prompt-embedding tensor for k prompt tokens. */
export function ppdTensor(config: ModelConfig, k: number): PlannedTensor {
  const h = config.text.hiddenSize;
  return { name: 'ppd.prompt_embeddings', cls: 'prompt_embed', shape: [k, h], sources: [{ hf: PPD_TENSOR, shape: [k, h] }] };
}

/**
 * The tensors to produce. `hasLmHead` says whether the checkpoint stores lm_head.weight; a tied
 * config (or an absent lm_head) produces no `lm_head` tensor: the forward reuses `embed`.
 */
export function planTensors(config: ModelConfig, hasLmHead: boolean): { tensors: PlannedTensor[]; tied: boolean } {
  const tied = config.text.tieWordEmbeddings || !hasLmHead;
  const textPrefix = config.kind === 'idefics3' ? 'model.text_model.' : 'model.';
  const tensors = textTensors(config.text, textPrefix, !tied);
  if (config.kind === 'idefics3') tensors.push(...visionTensors(config.vision, config.text.hiddenSize, config.scaleFactor));
  return { tensors, tied };
}
