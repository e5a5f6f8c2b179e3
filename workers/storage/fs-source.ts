// Node FileSource over a directory holding a model repository's files (config.json,
// *.safetensors, ...), for tests, tools and the benchmark. Reads are positional (never a whole
// large file). Never imported by browser code.
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ModelNotInstalledError } from '../protocol/errors';
import type { FileSource } from './types';

async function walk(dir: string, root: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, root, out);
    else if (e.isFile()) out.push(relative(root, p).split(sep).join('/'));
  }
}

export function dirFileSource(root: string): FileSource {
  const resolve = (path: string): string => {
    if (path.split('/').includes('..')) throw new RangeError(`path "${path}" leaves the model directory`);
    return join(root, ...path.split('/'));
  };
  const sizeOf = async (path: string): Promise<number> => {
    try {
      return (await stat(resolve(path))).size;
    } catch {
      throw new ModelNotInstalledError(`Model file "${path}" is missing in ${root}.`);
    }
  };
  return {
    async list() {
      const out: string[] = [];
      await walk(root, root, out);
      return out.sort();
    },
    size: sizeOf,
    async read(path, offset, length) {
      const size = await sizeOf(path);
      if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`read ${offset}+${length} outside "${path}" (${size} bytes)`);
      const fh = await open(resolve(path), 'r');
      try {
        const out = new Uint8Array(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(out, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === length ? out : out.subarray(0, got);
      } finally {
        await fh.close();
      }
    },
  };
}
