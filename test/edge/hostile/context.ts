// What the hostile-input case tables (cases-input.ts, cases-access.ts) share: the state the suite's setup fills in
// (tenants, keys, datasets, images), the edge under test, the case types, and the presigned-upload helpers.
import { expect } from 'vitest';
import { EXTENSIONS } from '../../../edge/datasets/image-probe.ts';
import type { ErrorCode } from '../../../edge/http/errors.ts';
import { uploadStagingKey } from '../../../shared/storage/keys.ts';
import type { EdgeUnderTest, Runtime } from '../../helpers/edge-under-test.ts';
import { type RunningS3rver, s3Config } from '../../helpers/s3rver.ts';
import { type Req, type Res, filePart, ok, postJson } from './http.ts';

/** A small JSON limit so "above the JSON limit" costs kilobytes, not megabytes. */
export const MAX_JSON_BYTES = 64 * 1024;

/** Filled by the suite's beforeAll; the case builders read it when they run. */
export const S = {
  key: '', // tenant A
  tenantId: '',
  keyB: '', // tenant B
  tenantB: '',
  revokedKey: '',
  openDs: '', // open, no declared classes
  typedDs: '', // open, classes cat/dog
  readyDs: '', // ready (cat, dog)
  dsB: '', // tenant B's open dataset
  imageB: '', // a pending upload of tenant B
  png: Buffer.alloc(0),
  jpeg: Buffer.alloc(0),
  webp: Buffer.alloc(0),
};

/** The running stack (set by the suite's beforeAll). */
export const stack = {} as { edge: EdgeUnderTest; s3: RunningS3rver };

/** How a case legitimately differs on one runtime, and why (the reason is part of the test's name). */
export interface RuntimeNote {
  why: string;
  /** Another answer on this runtime (else the case's own). */
  status?: number;
  code?: ErrorCode;
  /** The answer is the same, but wrangler dev's proxy loses its connection to the worker (edge-under-test.ts). */
  breaksDevProxy?: boolean;
  /** Not run on this runtime. */
  skip?: boolean;
}

export interface Case {
  category: string;
  name: string;
  status: number;
  code: ErrorCode;
  /** Runtime-specific differences, each with its reason; every other runtime must answer `status` and `code`. */
  on?: Partial<Record<Runtime, RuntimeNote>>;
  /** Runs first; with `baseline: 'before-setup'` the nothing-written check covers what setup made too. */
  setup?: () => Promise<unknown>;
  baseline?: 'before-setup' | 'after-setup';
  request: (state: any) => Req;
  /** Extra assertions after the response (before the nothing-written check). */
  check?: (state: any, res: Res) => Promise<void> | void;
}

/** Hostile-looking but valid: accepted as plain data, stored verbatim, nothing else touched. */
export interface Accepted {
  name: string;
  request: () => Req;
  status: number;
  /** The rows this request may add (table → count). */
  adds: Record<string, number>;
  check: (body: any) => void;
}

export const nested = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);
export const tinyPngs = (n: number) => Array.from({ length: n }, (_, i) => filePart(S.png, `f${i}.png`));
export const job = (hyperparameters: unknown) => postJson(S.key, '/v1/training-jobs', { dataset_id: S.readyDs, method: 'cocoop', hyperparameters });
export const classify = (body: unknown) => postJson(S.key, '/v1/classify', body);
export const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

// ---- presigned helpers ----------------------------------------------------------------------

export interface Pending {
  imageId: string;
  objectKey: string;
  url: string;
  headers: Record<string, string>;
  /** What s3rver answered to the hostile PUT. */
  s3Status?: number;
  /** A key outside the edge's rows that s3rver stored (a forged path), to check and remove. */
  strayKey?: string;
}

export async function pendingUpload(contentType: 'image/png' | 'image/jpeg' | 'image/webp', bytes: number): Promise<Pending> {
  const body = await ok<{ uploads: { image_id: string; url: string; headers: Record<string, string> }[] }>(
    postJson(S.key, `/v1/datasets/${S.openDs}/uploads`, { files: [{ label: 'cat', content_type: contentType, bytes }] }),
    201,
  );
  const u = body.uploads[0];
  // The key the URL writes: the upload's staging key (complete copies verified bytes to the image's own key).
  const objectKey = uploadStagingKey(S.tenantId, S.openDs, u.image_id, EXTENSIONS[contentType]);
  expect(new URL(u.url).pathname).toBe(`/${stack.s3.bucket}/${objectKey}`);
  return { imageId: u.image_id, objectKey, url: u.url, headers: u.headers };
}

export async function s3Put(url: string, headers: Record<string, string>, body: Uint8Array): Promise<number> {
  const res = await fetch(url, { method: 'PUT', headers, body: new Uint8Array(body) });
  await res.arrayBuffer();
  return res.status;
}

export const complete = (p: Pending): Req => postJson(S.key, `/v1/datasets/${S.openDs}/uploads/complete`, { image_ids: [p.imageId] });
/** The S3 secret both edges sign with (s3rver's built-in key pair). */
export const secret = () => s3Config(stack.s3.endpoint, stack.s3.bucket).secretAccessKey;

/** After a rejected complete: no row and no object for the upload. */
export function expectUploadGone(p: Pending): void {
  expect(stack.edge.count('SELECT COUNT(*) AS n FROM images WHERE id = ?', p.imageId)).toBe(0);
}
