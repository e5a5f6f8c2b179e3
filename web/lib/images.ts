// Photo intake: sniff the real format from the bytes, refuse what cannot be used with a clear
// UnsupportedImageError (empty, not an image, cut-off JPEG/PNG, decoding bombs, undecodable), decode with createImageBitmap (downscaling during decode), cap the
// longest edge at 2048 px (SmolVLM's processor limit), re-encode as JPEG 0.92, and hash the
// result (sha-256 hex = ImageRecord.id). The byte-level helpers are pure and run in Node.
import { UnsupportedImageError } from '../../workers/protocol';

/** Longest edge the model's image processor accepts; larger photos are downscaled to this. */
export const MAX_EDGE = 2048;
/** Decoding bombs are refused before decoding. 50 MP photos pass; 200 MP does not. */
export const MAX_MEGAPIXELS = 150;
export const MAX_FILE_BYTES = 100 * 1024 * 1024;

export type ImageKind = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'heic' | 'avif';

export interface PreparedImage {
  id: string; // sha-256 hex of `blob`
  blob: Blob; // image/jpeg
  width: number;
  height: number;
}

/** Identifies an image format by its magic bytes (the file name and MIME type can lie). */
export function sniffImageKind(b: Uint8Array): ImageKind | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 3) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a) return 'png';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 2 && ascii(b, 0, 2) === 'BM') return 'bmp';
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp') {
    const brands = [ascii(b, 8, 4)];
    const boxSize = readU32BE(b, 0);
    for (let o = 16; o + 4 <= Math.min(boxSize, b.length, 64); o += 4) brands.push(ascii(b, o, 4));
    if (brands.some((x) => x === 'avif' || x === 'avis')) return 'avif';
    if (brands.some((x) => ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(x))) return 'heic';
  }
  return null;
}

/** Width and height from the header, before any orientation; null when the format is not parsed here. */
export function readImageSize(b: Uint8Array, kind: ImageKind): { width: number; height: number } | null {
  if (kind === 'png' && b.length >= 24 && ascii(b, 12, 4) === 'IHDR') return { width: readU32BE(b, 16), height: readU32BE(b, 20) };
  if (kind === 'gif' && b.length >= 10) return { width: b[6] | (b[7] << 8), height: b[8] | (b[9] << 8) };
  if (kind === 'bmp' && b.length >= 26) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { width: Math.abs(dv.getInt32(18, true)), height: Math.abs(dv.getInt32(22, true)) }; // negative height = top-down
  }
  if (kind === 'webp' && b.length >= 30) {
    const chunk = ascii(b, 12, 4);
    const u24 = (o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
    if (chunk === 'VP8X') return { width: u24(24) + 1, height: u24(27) + 1 };
    if (chunk === 'VP8 ') return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff };
    if (chunk === 'VP8L' && b[20] === 0x2f) {
      const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
  }
  if (kind === 'jpeg') {
    for (const seg of jpegSegments(b)) {
      const m = seg.marker;
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc && seg.start + 5 <= b.length) {
        // payload: precision, height (u16), width (u16), ...
        return { height: (b[seg.start + 1] << 8) | b[seg.start + 2], width: (b[seg.start + 3] << 8) | b[seg.start + 4] };
      }
      if (m === 0xda) break;
    }
  }
  return null;
}

/** EXIF orientation (1..8) of a JPEG, 1 when absent. 5..8 mean the displayed image is rotated 90 degrees. */
export function readJpegOrientation(b: Uint8Array): number {
  for (const seg of jpegSegments(b)) {
    if (seg.marker === 0xda) break;
    if (seg.marker !== 0xe1 || ascii(b, seg.start, 6) !== 'Exif\0\0') continue;
    const t = seg.start + 6; // TIFF header
    const le = ascii(b, t, 2) === 'II';
    const u16 = (o: number) => (le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
    const u32 = (o: number) => (le ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 2 ** 24 : readU32BE(b, o));
    const ifd = t + u32(t + 4);
    if (ifd + 2 > b.length) return 1;
    const n = u16(ifd);
    for (let i = 0; i < n; i++) {
      const e = ifd + 2 + i * 12;
      if (e + 10 > b.length) return 1;
      if (u16(e) === 0x0112) {
        const v = u16(e + 8);
        return v >= 1 && v <= 8 ? v : 1;
      }
    }
  }
  return 1;
}

/**
 * Whether a JPEG's data runs all the way to its End-Of-Image marker. Walks the marker segments and
 * every entropy-coded scan (progressive files have several); a file cut short never reaches EOI.
 * Data after EOI (e.g. a motion photo's video) is allowed.
 */
export function isJpegComplete(b: Uint8Array): boolean {
  let sawScan = false;
  for (const seg of jpegSegments(b)) {
    if (seg.marker === 0xd9) return sawScan;
    if (seg.marker === 0xda) sawScan = true;
    if (seg.truncated) return false;
  }
  return false;
}

/** Whether a PNG's chunk sequence is whole up to its IEND chunk (a cut-off download is not). */
export function isPngComplete(b: Uint8Array): boolean {
  let o = 8; // after the signature
  while (o + 12 <= b.length) {
    const len = readU32BE(b, o);
    const type = ascii(b, o + 4, 4);
    o += 12 + len; // length, type, data, CRC
    if (o > b.length) return false;
    if (type === 'IEND') return true;
  }
  return false;
}

interface JpegSegment {
  marker: number;
  /** Offset of the segment payload (after the 2 length bytes). */
  start: number;
  truncated: boolean;
}

/** Yields the markers of a JPEG in order, skipping payloads and entropy-coded data. */
function* jpegSegments(b: Uint8Array): Generator<JpegSegment> {
  let o = 2; // after SOI
  while (o + 1 < b.length) {
    if (b[o] !== 0xff) return yield { marker: -1, start: o, truncated: true };
    let m = b[o + 1];
    while (m === 0xff && o + 2 < b.length) m = b[++o + 1]; // fill bytes
    o += 2;
    if (m === 0xd9) return yield { marker: m, start: o, truncated: false };
    if ((m >= 0xd0 && m <= 0xd7) || m === 0x01) continue; // standalone markers
    if (o + 2 > b.length) return yield { marker: m, start: o, truncated: true };
    const len = (b[o] << 8) | b[o + 1];
    const end = o + len;
    if (len < 2 || end > b.length) return yield { marker: m, start: o + 2, truncated: true };
    yield { marker: m, start: o + 2, truncated: false };
    o = end;
    if (m === 0xda) {
      // Entropy-coded data: runs until a marker other than stuffing (FF00) or restart (FFD0-D7).
      while (o + 1 < b.length && !(b[o] === 0xff && b[o + 1] !== 0 && !(b[o + 1] >= 0xd0 && b[o + 1] <= 0xd7))) o++;
      if (o + 1 >= b.length) return yield { marker: -1, start: o, truncated: true };
    }
  }
  yield { marker: -1, start: o, truncated: true };
}

/** Size that fits within `maxEdge` on the longest side, keeping the aspect ratio (never upscales). */
export function fitWithin(width: number, height: number, maxEdge = MAX_EDGE): { width: number; height: number } {
  const scale = Math.min(1, maxEdge / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * Refusals decided from the bytes alone (no decoding): empty files, non-images, truncated JPEGs,
 * decoding bombs. Returns the detected kind when the file may be decoded.
 */
export function validateImageBytes(name: string, bytes: Uint8Array): ImageKind {
  if (bytes.length === 0) throw new UnsupportedImageError(`"${name}" is empty (0 bytes). Choose the photo again or export it once more.`);
  if (bytes.length > MAX_FILE_BYTES) throw new UnsupportedImageError(`"${name}" is larger than ${MAX_FILE_BYTES / 2 ** 20} MB. Export a smaller copy and attach that.`);
  const kind = sniffImageKind(bytes);
  if (!kind) throw new UnsupportedImageError(`"${name}" is not a photo this app can read. Attach a JPEG, PNG, WebP or GIF image.`);
  if ((kind === 'jpeg' && !isJpegComplete(bytes)) || (kind === 'png' && !isPngComplete(bytes))) {
    const format = kind === 'jpeg' ? 'JPEG' : 'PNG';
    throw new UnsupportedImageError(`"${name}" is damaged: the ${format} data is cut short or corrupt. Copy or export the photo again.`);
  }
  const size = readImageSize(bytes, kind);
  if (size && size.width * size.height > MAX_MEGAPIXELS * 1e6) {
    const mp = Math.round((size.width * size.height) / 1e6);
    throw new UnsupportedImageError(`"${name}" is ${mp} megapixels, more than the ${MAX_MEGAPIXELS} this app decodes. Export a smaller copy.`);
  }
  return kind;
}

export function heicMessage(name: string): string {
  return `"${name}" is a HEIC photo, which this browser can't read. Share or export it as JPEG (on iPhone: Settings > Camera > Formats > Most Compatible).`;
}

/** Browser only: validates, decodes (downscaling while decoding), re-encodes and hashes a photo. */
export async function prepareImage(file: Blob, name: string): Promise<PreparedImage> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const kind = validateImageBytes(name, bytes);
  const header = readImageSize(bytes, kind);
  let bitmap: ImageBitmap;
  try {
    const blob = new Blob([bytes], { type: `image/${kind}` });
    if (header) {
      const swap = kind === 'jpeg' && readJpegOrientation(bytes) >= 5;
      const fit = fitWithin(swap ? header.height : header.width, swap ? header.width : header.height);
      bitmap = await createImageBitmap(blob, { resizeWidth: fit.width, resizeHeight: fit.height, resizeQuality: 'high' });
    } else {
      bitmap = await createImageBitmap(blob);
    }
  } catch {
    if (kind === 'heic') throw new UnsupportedImageError(heicMessage(name));
    throw new UnsupportedImageError(`"${name}" could not be decoded: the file is damaged or in a format this browser can't read. Export it as JPEG or PNG.`);
  }
  try {
    const fit = fitWithin(bitmap.width, bitmap.height);
    const canvas = new OffscreenCanvas(fit.width, fit.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new UnsupportedImageError('This browser cannot re-encode photos (no 2D canvas).');
    ctx.fillStyle = '#ffffff'; // transparent areas become white, as JPEG has no alpha
    ctx.fillRect(0, 0, fit.width, fit.height);
    ctx.drawImage(bitmap, 0, 0, fit.width, fit.height);
    const out = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
    return { id: await sha256Hex(out), blob: out, width: fit.width, height: fit.height };
  } finally {
    bitmap.close();
  }
}

export async function sha256Hex(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (x) => x.toString(16).padStart(2, '0')).join('');
}

function ascii(b: Uint8Array, start: number, len: number): string {
  let s = '';
  for (let i = start; i < start + len && i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function readU32BE(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}
