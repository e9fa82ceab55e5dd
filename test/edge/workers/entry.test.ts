// The Workers entry's reading of the S3 vars: the same as on Node (shared/storage/s3-env.ts), so
// S3_FORCE_PATH_STYLE "1" means path-style URLs on Workers too (it used to be read as false there).
import { describe, expect, it } from 'vitest';
import { buildPorts, type WorkerEnv } from '../../../edge/workers/entry.ts';

const bindings = { DB: {} as WorkerEnv['DB'], CACHE: {} as WorkerEnv['CACHE'] };
const vars = { S3_BUCKET: 'media', S3_ENDPOINT: 'https://s3.example.com', S3_ACCESS_KEY_ID: 'AK', S3_SECRET_ACCESS_KEY: 'SK' };

async function presignedHost(extra: Record<string, string>): Promise<URL> {
  const ports = buildPorts({ ...bindings, ...vars, ...extra } as WorkerEnv);
  return new URL((await ports.blobs.presignPut('tenants/t/x.png', 'image/png', 10, 60)).url);
}

describe('buildPorts (Workers) reads S3_FORCE_PATH_STYLE like Node', () => {
  it('"1" and "true" → path-style; "0" and "false" → virtual-hosted; unset with an endpoint → path-style', async () => {
    for (const v of ['1', 'true', 'TRUE']) {
      const u = await presignedHost({ S3_FORCE_PATH_STYLE: v });
      expect([u.host, u.pathname], v).toEqual(['s3.example.com', '/media/tenants/t/x.png']);
    }
    for (const v of ['0', 'false']) {
      const u = await presignedHost({ S3_FORCE_PATH_STYLE: v });
      expect([u.host, u.pathname], v).toEqual(['media.s3.example.com', '/tenants/t/x.png']);
    }
    expect((await presignedHost({})).host).toBe('s3.example.com');
  });

  it('a value that is not a flag is refused with the variable named', () => {
    expect(() => buildPorts({ ...bindings, ...vars, S3_FORCE_PATH_STYLE: 'yes please' } as WorkerEnv)).toThrow(/S3_FORCE_PATH_STYLE must be true\/1 or false\/0/);
  });
});
