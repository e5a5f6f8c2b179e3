// Tokenizer and chat-template glue over @huggingface/transformers: builds the tokenizer from the
// model's own tokenizer.json + tokenizer_config.json objects (no network, no file paths), turns
// a conversation into prompt ids with the model's chat template, and collects the ids that end
// generation (tokenizer EOS plus generation_config.json's eos_token_id).
import { GPT2Tokenizer, LlamaTokenizer, PreTrainedTokenizer, Qwen2Tokenizer } from '@huggingface/transformers';
import type { ChatTurn } from '../protocol/engine';
import { ModelFormatError, UnsupportedImageError } from '../protocol/errors';

type TokenizerCtor = new (tokenizerJson: unknown, tokenizerConfig: unknown) => PreTrainedTokenizer;

// The tokenizer classes our model families use; anything else falls back to the base class,
// which follows tokenizer.json exactly (as transformers.js's AutoTokenizer does).
const CLASSES: Record<string, TokenizerCtor> = {
  GPT2Tokenizer: GPT2Tokenizer as unknown as TokenizerCtor,
  LlamaTokenizer: LlamaTokenizer as unknown as TokenizerCtor,
  Qwen2Tokenizer: Qwen2Tokenizer as unknown as TokenizerCtor,
};

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
  const name = typeof tc.tokenizer_class === 'string' ? tc.tokenizer_class.replace(/Fast$/, '') : 'PreTrainedTokenizer';
  const Ctor = CLASSES[name] ?? (PreTrainedTokenizer as unknown as TokenizerCtor);
  let tok: PreTrainedTokenizer;
  try {
    tok = new Ctor(tj, tc);
  } catch (e) {
    throw new ModelFormatError(`The tokenizer could not be built (${(e as Error).message}). Download the model again.`);
  }
  const eos = new Set<number>([...idList(gen.eos_token_id)]);
  if (typeof tok.eos_token_id === 'number') eos.add(tok.eos_token_id);
  const hasTemplate = typeof tc.chat_template === 'string' || Array.isArray(tc.chat_template);

  return {
    eosIds: eos,
    encodeChat(messages) {
      if (!hasTemplate) throw new ModelFormatError('This model has no chat template (tokenizer_config.json); it cannot be used as an assistant. Choose an instruct model.');
      const conv = messages.map((m) => ({ role: m.role, content: turnText(m) }));
      const ids = tok.apply_chat_template(conv, { add_generation_prompt: true, tokenize: true, return_tensor: false, return_dict: false });
      return Array.from(ids as unknown as ArrayLike<number>, Number);
    },
    encode(text) {
      return tok.encode(text, { add_special_tokens: false });
    },
    decode(ids) {
      if (ids.length === 0) return '';
      return tok.decode(ids as number[], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
    },
  };
}
