// Download rate and time left over a sliding window: samples of (time, total bytes) from the
// last few seconds; the rate is the slope between the oldest and newest sample. Pure, unit-tested.

export interface RateSample {
  t: number; // ms
  bytes: number; // cumulative bytes received
}

export class RateMeter {
  private samples: RateSample[] = [];

  constructor(private readonly windowMs = 5000) {}

  /** Record the cumulative byte count at time `t` (ms, monotonic). */
  add(t: number, bytes: number): void {
    this.samples.push({ t, bytes });
    // Keep one sample older than the window so the slope spans the whole window.
    while (this.samples.length > 2 && this.samples[1].t <= t - this.windowMs) this.samples.shift();
  }

  reset(): void {
    this.samples = [];
  }

  /** Bytes per second over the window; 0 (unknown) until the samples span at least 1 s. */
  bytesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    const dt = b.t - a.t;
    if (dt < 1000) return 0;
    return Math.max(0, ((b.bytes - a.bytes) * 1000) / dt);
  }

  /** Seconds left for `remaining` bytes at the current rate; null when the rate is unknown. */
  secondsLeft(remaining: number): number | null {
    if (remaining <= 0) return 0;
    const r = this.bytesPerSecond();
    return r > 0 ? remaining / r : null;
  }
}
