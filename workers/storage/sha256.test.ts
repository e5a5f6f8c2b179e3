// Incremental SHA-256 against node:crypto: known vectors, random splits, and save/restore of the
// mid-state at arbitrary (also non-block-aligned) points.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from './sha256';

const ref = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('Sha256', () => {
  it('matches known vectors', () => {
    expect(sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matches node:crypto for every length around the padding boundaries', () => {
    const data = randomBytes(300);
    for (let n = 0; n <= 300; n++) expect(sha256Hex(data.subarray(0, n))).toBe(ref(data.subarray(0, n)));
  });

  it('gives the same digest however the input is split', () => {
    const data = randomBytes(5 * 1024 * 1024 + 77);
    for (let trial = 0; trial < 5; trial++) {
      const h = new Sha256();
      let off = 0;
      while (off < data.length) {
        const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 700_000));
        h.update(data.subarray(off, off + n));
        off += n;
      }
      expect(h.digestHex()).toBe(ref(data));
    }
  });

  it('continues from a saved state (structured-cloned, as IndexedDB stores it)', () => {
    const data = randomBytes(4 * 1024 * 1024 + 123);
    for (const cut of [0, 1, 63, 64, 65, 4096, 1 << 20, data.length]) {
      const a = new Sha256().update(data.subarray(0, cut));
      const state = structuredClone(a.save());
      const b = new Sha256(state).update(data.subarray(cut));
      expect(b.digestHex()).toBe(ref(data));
    }
  });

  it('refuses misuse', () => {
    const h = new Sha256();
    h.digest();
    expect(() => h.update(new Uint8Array(1))).toThrow();
    expect(() => new Sha256({ h: [1, 2], length: 0, pending: new Uint8Array(0) })).toThrow();
  });
});
