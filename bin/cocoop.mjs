#!/usr/bin/env node
// The `cocoop` command: runs gpu-worker/cli.ts through tsx's ESM loader (no build step to remember). `cocoop remote
// ...` is the hosted API's command line (cli/remote/main.ts, through the SDK): it loads nothing of gpu-worker.
import { register } from 'tsx/esm/api';

register();
const argv = process.argv.slice(2);
if (argv[0] === 'remote') {
  const { runRemote } = await import('../cli/remote/main.ts');
  process.exitCode = await runRemote(argv.slice(1));
} else {
  const { main } = await import('../gpu-worker/cli.ts');
  process.exitCode = await main(argv);
  if (argv.length === 0 || ['--help', '-h', 'help'].includes(argv[0])) {
    (argv.length ? process.stdout : process.stderr).write('\nThe hosted API: cocoop remote <command> (cocoop remote --help lists them).\n');
  }
}
