#!/usr/bin/env node
// The `cocoop` command: runs gpu-worker/cli.ts through tsx's ESM loader (no build step to remember).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../gpu-worker/cli.ts');
process.exitCode = await main(process.argv.slice(2));
