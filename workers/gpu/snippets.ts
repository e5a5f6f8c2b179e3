// Shared WGSL snippets every kernel may `#include "name"` (the pipeline cache passes them in).
import common from '../../shaders/common.wgsl?raw';
import gelu from '../../shaders/gelu.wgsl?raw';
import gemvFuse from '../../shaders/gemv_fuse.wgsl?raw';
import matmulBindings from '../../shaders/matmul_bindings.wgsl?raw';
import quant from '../../shaders/quant.wgsl?raw';
import xq8 from '../../shaders/xq8.wgsl?raw';

export const SNIPPETS: Readonly<Record<string, string>> = { common, quant, gelu, gemv_fuse: gemvFuse, matmul_bindings: matmulBindings, xq8 };
