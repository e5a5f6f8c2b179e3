// The photo-to-first-token bench (tools/bench/vlm.ts, same arguments) with the GEMM tile / split-K
// and attention routing of before issue 3's third session (gemmRouting / attentionRouting
// .legacy): run it next to dist-bench/vlm.mjs in one GPU-host call for a before/after TTFT
// (tools/bench/host-run.sh vlm). Bundled by tools/bench/build.mjs to dist-bench/vlm-prev-routing.mjs.
import { attentionRouting } from '../../workers/ops/attention';
import { gemmRouting } from '../../workers/ops/gemm';

gemmRouting.legacy = true;
attentionRouting.legacy = true;
console.log(JSON.stringify({ routing: 'previous (gemmRouting.legacy, attentionRouting.legacy)' }));
await import('./vlm');
