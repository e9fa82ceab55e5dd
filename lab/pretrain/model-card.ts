// The model card (README.md) of a pretrained toy CLIP, generated from its pretraining report.
import type { ZeroShotAccuracies } from '../toyworld/zero-shot-report.ts';
import type { PretrainReport } from './pretrain.ts';

export interface FullPretrainReport extends PretrainReport {
  command: string;
  machine: string;
  backend: string;
  zeroShot: ZeroShotAccuracies;
  evalPerClass: number;
  evalSeed: number;
  weightsBytes: number;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function modelCard(r: FullPretrainReport): string {
  const curve = r.lossCurve
    .map((l, i) => `| ${l.step} | ${l.loss.toFixed(4)} | ${pct(r.evalCurve[i]?.accuracy ?? NaN)} |`)
    .join('\n');
  return `# toy-clip: a tiny CLIP pretrained on the toy world

A CLIP in Hugging Face \`CLIPModel\` layout (config.json, model.safetensors, vocab.json + merges.txt in the
CLIP tokenizer format, preprocessor_config.json), small enough to ship inside the repository, pretrained from
scratch with CLIP's contrastive loss (learned temperature) on the procedural toy world of
\`lab/toyworld/\`: 64 classes "<color> <shape>" (8 colors × 8 shapes) drawn with varied size, position,
rotation and background, captioned from templates ("a photo of a red star.", "a small red star on a noisy
background", …). It is the default model of the product's local stack and of the base-to-new benchmark.
It knows only this world: do not expect anything of it on real photographs.

## Architecture

- Vision: ViT, 48×48 images, 8×8 patches (36 + 1 tokens), width 64, 4 layers, 4 heads, MLP 256, quick_gelu.
- Text: width 64, 3 layers, 4 heads, MLP 256, 77 positions, causal mask, EOT pooling; vocabulary of
  ${'`'}vocab.json${'`'}: the 512 byte tokens + one BPE merge chain per caption word + \`<|startoftext|>\`, \`<|endoftext|>\`.
- Projection 64; ${(r.parameters / 1e6).toFixed(2)}M parameters; model.safetensors ${(r.weightsBytes / 1e6).toFixed(2)} MB (float32).

## How it was trained

\`\`\`
${r.command}
\`\`\`

Machine: ${r.machine}; TF.js backend \`${r.backend}\`. Wall time ${(r.seconds / 60).toFixed(1)} min.
Seed ${r.seed}; ${r.steps} steps of batch ${r.batchSize} (each batch: distinct classes, one freshly rendered scene
each, so no batch holds two pairs of the same class); Adam (β 0.9/0.98, ε 1e-6), peak lr ${r.lr}, linear warm-up
${r.warmupSteps} steps then cosine to 0, decoupled weight decay ${r.weightDecay} on weight matrices; logit scale
initialised at ln(1/0.07) and clamped at ln(100); final exp(logit_scale) = ${Math.exp(r.finalLogitScale).toFixed(1)}.

| step | mean training loss (last block) | held-out zero-shot, 64 labels (TF.js, during training) |
|---:|---:|---:|
${curve}

## Zero-shot accuracy (all 64 labels, prompt "a photo of a {class}.", ORT inference path)

${r.evalPerClass} held-out test images per class and domain (seed ${r.evalSeed}; splits have their own random streams):

| domain | what it is | accuracy |
|---|---|---:|
| raster | the pretraining renderer (new draws) | ${pct(r.zeroShot.raster)} |
| sticker | a second, independently written renderer (SVG through librsvg, outlined "sticker" style, other backgrounds), never seen in pretraining | ${pct(r.zeroShot.sticker)} |
| night | the shifted few-shot domain: raster scenes darkened, blue-tinted, blurred and noisy | ${pct(r.zeroShot.night)} |

Reproduce: rerun the command above (deterministic for a seed on the same backend; accuracies are re-measured and
written to this card and \`pretrain-report.json\`).
`;
}
