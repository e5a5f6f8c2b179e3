// Build-time stand-in for `onnxruntime-web/webgpu` (aliased in vite.config.ts for app builds).
// @huggingface/transformers imports ONNX Runtime statically, but Lumen only uses its tokenizers,
// chat templates and image processor; the one processor step that runs an ONNX graph (tiling) is
// replaced by workers/vision/tiles.ts. Without this alias the bundler ships ORT's JavaScript and a
// 27 MB WebAssembly file that the app never loads. Anything that does reach for ONNX Runtime fails
// loudly instead of fetching WebAssembly from a CDN.
const message =
  'ONNX Runtime is not part of the Lumen build: this @huggingface/transformers feature needs it. ' +
  'Use the engine (workers/) or an ONNX-free path such as workers/vision/tiles.ts.';

/** transformers.js only tests `x instanceof Tensor`; nothing ever constructs one here. */
export class Tensor {
  constructor() {
    throw new Error(message);
  }
}

export const InferenceSession = {
  create(): never {
    throw new Error(message);
  },
};
