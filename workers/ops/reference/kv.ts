// CPU reference for KV-cache compaction: copy the entries at src slots to dst slots in a cache
// [nKv, maxSeq, d]. All reads happen before any write, so overlapping lists are well defined
// (PPD moves the accepted path's entries down to L, L+1, ...). dst slots must be distinct.

export function kvCompactRef(
  cache: Float32Array,
  nKv: number,
  maxSeq: number,
  d: number,
  src: Uint32Array,
  dst: Uint32Array,
): Float32Array {
  const out = cache.slice();
  for (let h = 0; h < nKv; h++) {
    for (let p = 0; p < src.length; p++) {
      for (let c = 0; c < d; c++) out[(h * maxSeq + dst[p]) * d + c] = cache[(h * maxSeq + src[p]) * d + c];
    }
  }
  return out;
}
