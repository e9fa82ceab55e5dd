#!/usr/bin/env node
// `npm start`: the local stack (S3-protocol server, edge on Node, one worker) arrives with the platform issue.
console.log(
  'cocoop: the local platform (edge API + worker + S3 server) arrives with the platform issue.\n' +
    'What works today is the model CLI, e.g.:\n' +
    '  npx cocoop make-model --preset tiny --seed 1 --out /tmp/tiny-clip\n' +
    '  npx cocoop embed --model /tmp/tiny-clip --text "a photo of a cat." --json\n' +
    'See README.md.',
);
