// The web console's files on Workers: the static-assets binding (ASSETS) of infra/cloudflare/wrangler.toml, whose
// directory is what scripts/build-console.ts writes (wrangler's `[build]` runs it). `run_worker_first` sends every
// request to the Worker, so /console gets the same headers (CSP) as on Node from edge/routes/console.ts.
import type { ConsoleAssets, ConsoleFile } from '../ports.ts';

/** The assets binding: a fetcher over the uploaded files (`html_handling = "none"`: paths are file names). */
export interface AssetsBinding {
  fetch(request: Request): Promise<Response>;
}

export function bindingConsoleAssets(assets: AssetsBinding): ConsoleAssets {
  return {
    async get(name: string): Promise<ConsoleFile | null> {
      // The host is ignored by the binding; only the path names the file.
      const res = await assets.fetch(new Request(`https://assets.local/console/${encodeURIComponent(name)}`));
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        return null;
      }
      return { body: res.body, contentType: res.headers.get('content-type') ?? 'application/octet-stream', etag: res.headers.get('etag') };
    },
  };
}
