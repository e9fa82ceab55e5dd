#!/usr/bin/env node
// `npm start`: the local stack (S3-protocol server, edge on Node with SQLite — or, with `-- --edge workerd`, the
// edge's Workers build inside workerd — and one worker), run from TypeScript via tsx (no build step). See
// scripts/start-local.ts and API.md "Local mode".
import { register } from 'tsx/esm/api';
import { fileURLToPath, pathToFileURL } from 'node:url';

register();
const entry = fileURLToPath(new URL('../scripts/start-local.ts', import.meta.url));
process.argv = [process.argv[0], entry, ...process.argv.slice(2)];
await import(pathToFileURL(entry).href);
