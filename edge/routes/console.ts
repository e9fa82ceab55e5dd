// The web console (console/, docs/console.md) at /console: GET /console is its page, GET /console/<file> its script
// and stylesheet, read from the ConsoleAssets port (Node: the folder scripts/build-console.ts writes; Workers: the
// static-assets binding of the same folder). Static files, not API operations: served by middleware, so they are
// not in /openapi.json, need no key and pass none of the /v1 middleware.
//
// Every answer carries a strict Content-Security-Policy: scripts, styles, fonts and frames from this origin only (no
// inline code: the page is three files), images from here and from blob: (thumbnails and previews of the user's own
// files), connections to this origin and to the origin of the presigned upload URLs — the S3 endpoint, which is
// another origin (the local stack's s3rver, R2, S3). That origin is read from a presigned URL the blob store signs
// once (offline; nothing is uploaded to it), so it is exactly what the console's PUTs will use on this deployment.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../http/context.ts';
import { notFound } from '../http/errors.ts';
import type { BlobStore } from '../ports.ts';

/** The console's files: a name and one of the extensions a build writes (no paths, no dot files). */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*\.(?:html|js|css|svg)$/;

/** The Content-Security-Policy of every console response; `uploadOrigin` is where presigned PUTs go. */
export function consoleCsp(uploadOrigin: string | null): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    `connect-src 'self'${uploadOrigin ? ` ${uploadOrigin}` : ''}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOT_BUILT = 'The web console is not built on this server: run `npm run console:build` (docs/console.md).';

const uploadOrigins = new WeakMap<BlobStore, Promise<string | null>>();

/** The origin of the blob store's presigned PUT URLs (signed once per store; null when it cannot sign). */
export function presignedUploadOrigin(blobs: BlobStore): Promise<string | null> {
  let origin = uploadOrigins.get(blobs);
  if (!origin) {
    origin = blobs.presignPut('console/csp-probe', 'image/png', 1, 60).then(
      (put) => new URL(put.url).origin,
      () => null,
    );
    uploadOrigins.set(blobs, origin);
  }
  return origin;
}

/** Mounted on /console and /console/*: answers GET and HEAD of the console's files, passes anything else on (404). */
export const consoleAssets: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method !== 'GET' && method !== 'HEAD') return next();
  const path = c.req.path;
  if (path === '/console/') return c.redirect('/console', 308);
  const name = path === '/console' ? 'index.html' : path.slice('/console/'.length);
  if (!FILE_NAME.test(name)) return next();
  const file = (await c.var.ports.consoleAssets?.get(name)) ?? null;
  if (!file) {
    if (name === 'index.html') throw notFound(NOT_BUILT);
    return next();
  }

  const headers = new Headers({
    'Content-Type': file.contentType,
    'Content-Security-Policy': consoleCsp(await presignedUploadOrigin(c.var.ports.blobs)),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    // Revalidated on every load (a new build is picked up at once); an unchanged file costs a 304.
    'Cache-Control': 'no-cache',
  });
  if (file.etag) headers.set('ETag', file.etag);
  const inm = c.req.header('if-none-match');
  if (file.etag && inm && inm.split(',').some((t) => t.trim() === file.etag)) {
    if (file.body instanceof ReadableStream) await file.body.cancel();
    return new Response(null, { status: 304, headers });
  }
  if (method === 'HEAD' && file.body instanceof ReadableStream) await file.body.cancel();
  return new Response(method === 'HEAD' ? null : (file.body as BodyInit), { status: 200, headers });
};
