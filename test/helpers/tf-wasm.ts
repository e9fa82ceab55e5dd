// TF.js on the wasm backend for a test file (the backend the product trains on without a GPU).
import { beforeAll, expect } from 'vitest';
import { initTfBackend } from '../../gpu-worker/runtime/tf-backend.ts';

/** Selects the wasm backend before the file's tests, and checks that it was selected. */
export function useTfWasm(): void {
  beforeAll(async () => {
    const info = await initTfBackend({ prefer: 'wasm', log: () => {} });
    expect(info.backend).toBe('wasm');
  });
}
