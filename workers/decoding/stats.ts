// Generation statistics: time to first token, prefill and decode throughput, tokens per step.
// Timestamps come from performance.now(); a "step" is one decode forward pass (1 token without
// speculative decoding, more with PPD).
import type { GenerateStats } from '../protocol/engine';

export class GenerationTimer {
  private readonly t0 = performance.now();
  private tFirst = 0;
  private tLast = 0;
  private promptTokens = 0;
  private generated = 0;
  private steps = 0;
  visualTokens = 0;
  encodeMs = 0;

  /** Prefill of `n` prompt tokens finished and produced the first new token. */
  prefillDone(n: number): void {
    this.promptTokens = n;
    this.tFirst = this.tLast = performance.now();
    this.generated = 1;
  }

  /** One decode step produced `accepted` tokens. */
  step(accepted: number): void {
    this.steps++;
    this.generated += accepted;
    this.tLast = performance.now();
  }

  get generatedTokens(): number {
    return this.generated;
  }

  stats(): GenerateStats {
    const ttft = this.tFirst > 0 ? this.tFirst - this.t0 : performance.now() - this.t0;
    const decodeMs = this.tLast - this.tFirst;
    const decoded = this.generated - 1;
    return {
      promptTokens: this.promptTokens,
      visualTokens: this.visualTokens,
      generatedTokens: this.generated,
      encodeMs: this.encodeMs,
      timeToFirstTokenMs: ttft,
      prefillTokensPerSecond: ttft > 0 ? (this.promptTokens * 1000) / ttft : 0,
      decodeTokensPerSecond: decodeMs > 0 && decoded > 0 ? (decoded * 1000) / decodeMs : 0,
      tokensPerStep: this.steps > 0 ? decoded / this.steps : 1,
    };
  }
}
