// Platform-neutral interfaces of workers/storage: where raw model files are read from
// (IndexedDB chunks in the browser, plain files under Node) during install.

/** Read access to the raw files of one downloaded model repository. */
export interface FileSource {
  /** Repository-relative paths, e.g. "config.json", "model.safetensors". */
  list(): Promise<string[]>;
  size(path: string): Promise<number>;
  /** Reads [offset, offset + length). Never reads a whole large file unless asked to. */
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
}
