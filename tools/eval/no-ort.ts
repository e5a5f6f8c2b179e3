// Bundle-time stand-in for ONNX Runtime's backends in the engine-eval bundle (tools/eval/build.mjs):
// the engine uses transformers.js only for tokenizers, chat templates and the image processor,
// never an ONNX graph, and the GPU host has no node_modules. transformers.js' tensors wrap
// onnxruntime-common's Tensor (plain JavaScript, bundled as is); creating an inference session
// fails loudly.
import { Tensor } from 'onnxruntime-common';

const message = 'ONNX Runtime is not part of the engine-eval bundle; the engine never runs ONNX graphs.';

export { Tensor };

export const InferenceSession = {
  create(): never {
    throw new Error(message);
  },
};

export const env = {};

// transformers.js' web build takes ONNX Runtime from this global when present (under Node it
// would otherwise use its empty onnxruntime-node placeholder and fail on `instanceof Tensor`).
(globalThis as Record<symbol, unknown>)[Symbol.for('onnxruntime')] = { Tensor, InferenceSession, env };
