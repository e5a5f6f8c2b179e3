// Public surface of the GPU core: context, buffers, preprocessor, pipeline cache, recorder.
export { createGpuContext, assertAlive, type GpuContext, type GpuContextOptions, type GpuCapabilities } from './context';
export { BufferPool, STORAGE_USAGE, Usage, align4, alignTo } from './buffers';
export { preprocessWgsl, WgslPreprocessError, type Defines, type DefineValue, type PreprocessOptions } from './preprocess';
export { PipelineCache, ShaderCompileError, variantKey, PARAMS_SLOT_BYTES, type Kernel, type KernelSpec, type BindingKind } from './pipelines';
export { Recorder, ParamsRing, createBindGroup, type BufferBinding } from './recorder';
export { SNIPPETS } from './snippets';
