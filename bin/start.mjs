#!/usr/bin/env node
// `npm start`: the local stack (S3-protocol server, edge on Node, one worker) arrives with the platform issue.
// Its default model is the bundled toy CLIP (models/toy-clip); CLIP_MODEL_DIR will select another.
const model = process.env.CLIP_MODEL_DIR || 'models/toy-clip';
console.log(
  'cocoop: the local platform (edge API + worker + S3 server) arrives with the platform issue.\n' +
    `What works today is the model CLI with the default model (${model}), e.g.:\n` +
    '  npm run toyworld -- --out /tmp/night-base --domain night --classes base --per-class 16\n' +
    `  npx cocoop train --model ${model} --data /tmp/night-base --method cocoop --out /tmp/base.safetensors\n` +
    `  npx cocoop classify --model ${model} --adapter /tmp/base.safetensors --labels "yellow star,white ring,red triangle" --image img.png\n` +
    'See README.md.',
);
