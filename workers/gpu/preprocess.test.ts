// WGSL preprocessor: includes, defines, conditionals, and named errors for malformed input.
import { describe, expect, it } from 'vitest';
import { preprocessWgsl, WgslPreprocessError } from './preprocess';
import { variantKey } from './pipelines';

describe('preprocessWgsl', () => {
  it('substitutes defines as whole words, caller defines win', () => {
    const src = '#define N 4\n#define M 2\nlet a = N * M; let NN = 1;';
    expect(preprocessWgsl(src, { defines: { M: 8 } }).trim()).toBe('let a = 4 * 8; let NN = 1;');
  });

  it('evaluates #if/#elif/#else/#endif, #ifdef and comparisons, nested', () => {
    const src = ['#if Q == 4', 'four', '#elif Q == 8', 'eight', '#else', 'other', '#endif', '#ifdef F', '#if !G', 'fg', '#endif', '#endif', '#if W >= 64', 'wide', '#endif'].join('\n');
    expect(preprocessWgsl(src, { defines: { Q: 8, F: true, G: false, W: 64 } }).split('\n').filter(Boolean)).toEqual(['eight', 'fg', 'wide']);
    expect(preprocessWgsl(src, { defines: { Q: 4, W: 2 } }).split('\n').filter(Boolean)).toEqual(['four']);
    expect(preprocessWgsl(src, { defines: { Q: 5, F: true, G: true } }).split('\n').filter(Boolean)).toEqual(['other']);
  });

  it('includes snippets once, recursively, with the includer\'s defines', () => {
    const includes = { a: '#include "b"\nfn a() -> u32 { return K; }', b: 'fn b() {}' };
    const out = preprocessWgsl('#include "a"\n#include "b"\nmain', { includes, defines: { K: 3 } });
    expect(out.split('\n').filter(Boolean)).toEqual(['fn b() {}', 'fn a() -> u32 { return 3; }', 'main']);
  });

  it('reports malformed input with file and line', () => {
    expect(() => preprocessWgsl('#if A\nx', {}, 's')).toThrow(WgslPreprocessError);
    expect(() => preprocessWgsl('x\n#endif', {}, 's')).toThrow(/s:2: #endif without #if/);
    expect(() => preprocessWgsl('#include "nope"', {}, 's')).toThrow(/unknown include "nope"/);
    expect(() => preprocessWgsl('#pragma x', {}, 's')).toThrow(/unknown directive/);
    expect(() => preprocessWgsl('#if A ~ 3\n#endif', {}, 's')).toThrow(/cannot evaluate/);
  });

  it('variant keys are stable under define order and differ by workgroup size', () => {
    const base = { op: 'x', source: '', bindings: ['read'] as const, workgroupSize: [64, 1, 1] as const };
    expect(variantKey({ ...base, defines: { A: 1, B: 2 } })).toBe(variantKey({ ...base, defines: { B: 2, A: 1 } }));
    expect(variantKey({ ...base, workgroupSize: [128, 1, 1] })).not.toBe(variantKey(base));
  });
});
