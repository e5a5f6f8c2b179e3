// Stop strings over streamed text: text that could still become a stop string is held back, so
// the caller never shows a partial "<|im_end" and never has to take text back. When a stop string
// appears, everything from its first character on is dropped and generation ends.

export interface StopResult {
  /** Text safe to show now. */
  emit: string;
  /** A stop string was found; `emit` ends right before it. */
  stopped: boolean;
}

export class StopStringMatcher {
  private held = '';
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  push(text: string): StopResult {
    if (this.stops.length === 0) return { emit: text, stopped: false };
    const buf = this.held + text;
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.held = '';
      return { emit: buf.slice(0, cut), stopped: true };
    }
    // Hold back the longest suffix of buf that is a proper prefix of some stop string.
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > keep; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** End of generation without a stop: release what was held back. */
  flush(): string {
    const h = this.held;
    this.held = '';
    return h;
  }
}
