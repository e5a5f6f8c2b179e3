// Bundle-time stand-in for `onnxruntime-web/webgpu`: app builds alias it here (vite.config.ts), and
// so does the engine-eval bundle for the GPU host (tools/eval/build.mjs). @huggingface/transformers
// imports ONNX Runtime statically, but Lumen only uses its tokenizers, chat templates and image
// processor; the one processor step that runs an ONNX graph (tiling) is replaced by our own code
// (workers/vision). Without the alias the bundler ships ORT's JavaScript and a 27 MB WebAssembly
// file that the app never loads. transformers.js' tensors wrap onnxruntime-common's Tensor (plain
// JavaScript, kept as is); anything that reaches for an inference session fails loudly instead of
// fetching WebAssembly from a CDN.
import { Tensor } from 'onnxruntime-common';

const message =
  'ONNX Runtime is not part of the Lumen build: this @huggingface/transformers feature needs it. ' +
  'Use the engine (workers/) or an ONNX-free path such as workers/vision.';

export { Tensor };

export const InferenceSession = {
  create(): never {
    throw new Error(message);
  },
};

export const env = {};

// transformers.js takes ONNX Runtime from this global when present: under Node (the engine-eval
// bundle) its web build would otherwise use an empty onnxruntime-node placeholder and fail on
// `instanceof Tensor`; in browsers it is the same object as this module's exports.
(globalThis as Record<symbol, unknown>)[Symbol.for('onnxruntime')] = { Tensor, InferenceSession, env };
