// Idefics3 prompts: the model's tokenizer and chat template (@huggingface/transformers, built
// from the repository's own JSON files), photos rendered as <image> by the template, each
// <image> expanded like Idefics3Processor (preprocess.ts), tokenized, and every <image>
// placeholder id replaced by the VIRTUAL id of its visual token (models/idefics3/model.ts):
// photo k's placeholders get base_k, base_k + 1, ... in tile-major order, which is the row order
// of its encoded features.
import { GPT2Tokenizer, LlamaTokenizer, PreTrainedTokenizer } from '@huggingface/transformers';
import type { ChatTurn } from '../protocol/engine';
import { ModelFormatError } from '../protocol/errors';
import { expandImagePrompt } from './preprocess';

type Json = Record<string, unknown>;
type TokenizerCtor = new (tokenizerJson: unknown, tokenizerConfig: unknown) => PreTrainedTokenizer;

const CLASSES: Record<string, TokenizerCtor> = {
  GPT2Tokenizer: GPT2Tokenizer as unknown as TokenizerCtor,
  LlamaTokenizer: LlamaTokenizer as unknown as TokenizerCtor,
};

export function parseJsonFile(bytes: Uint8Array | string, file: string): Json {
  try {
    const v: unknown = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Json;
  } catch (e) {
    throw new ModelFormatError(`${file} is not valid JSON (${(e as Error).message}). Download the model again.`);
  }
}

/** The model's tokenizer; chat_template.json (SmolVLM ships one) wins over tokenizer_config's. */
export function createVlmTokenizer(tokenizerJson: Json, tokenizerConfig: Json, chatTemplateJson?: Json | null): PreTrainedTokenizer {
  const tc = { ...tokenizerConfig };
  if (typeof chatTemplateJson?.chat_template === 'string') tc.chat_template = chatTemplateJson.chat_template;
  if (typeof tc.chat_template !== 'string') throw new ModelFormatError('This model has no chat template (chat_template.json or tokenizer_config.json); it cannot be used as an assistant.');
  const name = typeof tc.tokenizer_class === 'string' ? tc.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
  const Ctor = CLASSES[name] ?? (PreTrainedTokenizer as unknown as TokenizerCtor);
  try {
    return new Ctor(tokenizerJson, tc);
  } catch (e) {
    throw new ModelFormatError(`The tokenizer could not be built (${(e as Error).message}). Download the model again.`);
  }
}

/** Chat template text of a conversation (photos as {type: 'image'} parts), ending with the assistant opening. */
export function renderChat(tok: PreTrainedTokenizer, messages: readonly ChatTurn[]): string {
  const conv = messages.map((m) => ({
    role: m.role,
    content: m.content.map((p) => (p.type === 'image' ? { type: 'image' } : { type: 'text', text: p.text })),
  }));
  return tok.apply_chat_template(conv as unknown as Parameters<PreTrainedTokenizer['apply_chat_template']>[0], { add_generation_prompt: true, tokenize: false }) as unknown as string;
}

export interface PromptPhoto {
  rows: number;
  cols: number;
  /** First virtual id of its visual tokens. */
  base: number;
  /** Visual tokens (tiles x image_seq_len). */
  count: number;
}

/** Token ids of the rendered prompt with every photo expanded; <image> ids become virtual ids. */
export function encodeVlmPrompt(tok: PreTrainedTokenizer, text: string, photos: readonly PromptPhoto[], seqLen: number): number[] {
  const expanded = expandImagePrompt(text, photos, seqLen);
  const enc = tok(expanded) as unknown as { input_ids: { data: ArrayLike<bigint | number> } };
  const ids = Array.from(enc.input_ids.data, Number);
  const single = tok.encode('<image>', { add_special_tokens: false });
  const imageId = single.length === 1 ? single[0] : undefined;
  if (imageId === undefined) throw new ModelFormatError('The tokenizer has no <image> token; this is not an Idefics3 (SmolVLM) tokenizer.');
  let k = 0;
  let j = 0;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== imageId) continue;
    while (k < photos.length && j >= photos[k].count) {
      k++;
      j = 0;
    }
    if (k >= photos.length) throw new ModelFormatError('The prompt has more <image> tokens than the photos provide (is "<image>" typed in the message?).');
    ids[i] = photos[k].base + j++;
  }
  if (photos.length > 0 && (k !== photos.length - 1 || j !== photos[k].count)) throw new ModelFormatError('The prompt has fewer <image> tokens than the photos provide.');
  return ids;
}
