// Tokenizer and chat-template glue: builds the tokenizer from the model's own tokenizer.json +
// tokenizer_config.json objects (no network, no file paths), renders the model's chat template,
// and collects the ids that end generation (tokenizer EOS plus generation_config's eos_token_id).
// Uses the two libraries @huggingface/transformers itself runs on for this (@huggingface/tokenizers
// and @huggingface/jinja) rather than the transformers.js bundle, which would pull onnxruntime-web
// (a 680 kB worker chunk and a 27 MB wasm) into the app for nothing: the engine is our own.
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import type { ChatTurn } from '../protocol/engine';
import { ModelFormatError, UnsupportedImageError } from '../protocol/errors';

export interface ChatTokenizer {
  /** Prompt ids for a conversation, ending with the assistant turn's opening. */
  encodeChat(messages: readonly ChatTurn[]): number[];
  /** Plain text to ids (no special tokens added). */
  encode(text: string): number[];
  /** Ids to text, special tokens dropped. */
  decode(ids: readonly number[]): string;
  /** Ids that end generation. */
  readonly eosIds: ReadonlySet<number>;
}

function parseJson(bytes: Uint8Array | string, file: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ModelFormatError(`${file} is not valid JSON (${(e as Error).message}). Download the model again.`);
  }
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Text of a turn; image parts are refused for text-only models. */
function turnText(turn: ChatTurn): string {
  let text = '';
  for (const part of turn.content) {
    if (part.type === 'image') {
      throw new UnsupportedImageError('This model reads text only: remove the photo from the conversation, or load a vision model (SmolVLM) to ask about photos.');
    }
    text += part.text;
  }
  return text;
}

/**
 * `chatTemplateJson`: the repository's chat_template.json ({"chat_template": "..."}), which some
 * models (SmolVLM) ship instead of a template inside tokenizer_config.json; it wins when present.
 */
export function createChatTokenizer(
  tokenizerJson: Uint8Array | string,
  tokenizerConfigJson: Uint8Array | string,
  generationConfigJson?: Uint8Array | string | null,
  chatTemplateJson?: Uint8Array | string | null,
): ChatTokenizer {
  const tj = parseJson(tokenizerJson, 'tokenizer.json');
  const tc = parseJson(tokenizerConfigJson, 'tokenizer_config.json');
  if (chatTemplateJson) {
    const ct = parseJson(chatTemplateJson, 'chat_template.json').chat_template;
    if (typeof ct === 'string') tc.chat_template = ct;
  }
  const gen = generationConfigJson ? parseJson(generationConfigJson, 'generation_config.json') : {};
  if (!tj.model || typeof tj.model !== 'object') throw new ModelFormatError('tokenizer.json has no "model" section; it is not a Hugging Face tokenizer file.');
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tj, tc);
  } catch (e) {
    throw new ModelFormatError(`The tokenizer could not be built (${(e as Error).message}). Download the model again.`);
  }
  // Special tokens as the template sees them (strings), as transformers passes them.
  const special: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
    const v = tc[key];
    const text = typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : null;
    if (text !== null) special[key] = text;
  }
  const eos = new Set<number>([...idList(gen.eos_token_id)]);
  const eosId = special.eos_token !== undefined ? tok.token_to_id(special.eos_token) : undefined;
  if (eosId !== undefined) eos.add(eosId);
  // A string, or a list of named templates (then the one named "default").
  const ct = tc.chat_template;
  const named = Array.isArray(ct) ? (ct as { name?: unknown; template?: unknown }[]).find((t) => t.name === 'default')?.template : undefined;
  const source = typeof ct === 'string' ? ct : typeof named === 'string' ? named : null;
  let template: Template | null = null;
  const compiled = (): Template => {
    if (!source) throw new ModelFormatError('This model has no chat template (tokenizer_config.json); it cannot be used as an assistant. Choose an instruct model.');
    try {
      template ??= new Template(source);
    } catch (e) {
      throw new ModelFormatError(`The model's chat template does not parse (${(e as Error).message}).`);
    }
    return template;
  };

  return {
    eosIds: eos,
    encodeChat(messages) {
      const conv = messages.map((m) => ({ role: m.role, content: turnText(m) }));
      const text = compiled().render({ messages: conv, add_generation_prompt: true, ...special });
      return tok.encode(text, { add_special_tokens: false }).ids;
    },
    encode(text) {
      return tok.encode(text, { add_special_tokens: false }).ids;
    },
    decode(ids) {
      if (ids.length === 0) return '';
      return tok.decode(ids as number[], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
    },
  };
}
