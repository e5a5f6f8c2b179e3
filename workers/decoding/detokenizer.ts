// Incremental detokenization: turns a growing list of token ids into appended text pieces that
// never split a multi-byte character. Byte-level tokenizers emit a UTF-8 character over several
// tokens; decoding a partial sequence yields U+FFFD at the end, so we hold text back until the
// character is complete. Decoding restarts from a recent "prefix" offset (not from 0) so each
// step costs O(a few tokens), and the window keeps the tokenizer's merge-dependent spacing right.

/** The one tokenizer call the detokenizer needs. */
export type DecodeFn = (ids: readonly number[]) => string;

const REPLACEMENT = '\uFFFD';

export class IncrementalDetokenizer {
  private ids: number[] = [];
  /** Start of the window that is re-decoded for context. */
  private prefixOffset = 0;
  /** Tokens before this index have been emitted as text. */
  private readOffset = 0;

  constructor(private readonly decode: DecodeFn) {}

  /** Add one token; returns the text that became final (possibly ''). */
  push(id: number): string {
    this.ids.push(id);
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.decode(this.ids.slice(this.prefixOffset));
    if (fullText.length > prefixText.length && !fullText.endsWith(REPLACEMENT)) {
      const piece = fullText.slice(prefixText.length);
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return piece;
    }
    return '';
  }

  /** Text still held back (an incomplete character at the very end); emitted as-is at the end. */
  flush(): string {
    if (this.readOffset >= this.ids.length) return '';
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return fullText.slice(prefixText.length);
  }

  get tokenCount(): number {
    return this.ids.length;
  }
}
