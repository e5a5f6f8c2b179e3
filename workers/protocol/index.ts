// The only part of workers/ that web/ may import: message types and the error codec.
export * from './errors';
export * from './engine';
export * from './library';
export * from './format';
