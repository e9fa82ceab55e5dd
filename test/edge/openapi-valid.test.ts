// GET /openapi.json checked by an independent validator against the official OpenAPI 3.1 JSON schema
// (@seriousme/openapi-schema-validator), plus a broken copy to show the check can fail.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEdge, startTestEdge } from '../helpers/edge.ts';

let edge: TestEdge;
let doc: Record<string, unknown>;
beforeAll(async () => {
  edge = await startTestEdge();
  const res = await edge.fetch('/openapi.json');
  expect(res.status).toBe(200);
  doc = (await res.json()) as Record<string, unknown>;
});
afterAll(async () => {
  await edge?.close();
});

async function validate(spec: Record<string, unknown>) {
  const validator = new Validator();
  // The validator may annotate what it is given; hand it a copy.
  const result = await validator.validate(structuredClone(spec));
  return { ...result, version: validator.version };
}

describe('GET /openapi.json against the official OpenAPI 3.1 schema', () => {
  it('the validator supports 3.1', () => {
    expect(Validator.supportedVersions.has('3.1')).toBe(true);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const result = await validate(doc);
    expect(result.version).toBe('3.1');
    expect(result.valid, `OpenAPI validation errors:\n${JSON.stringify(result.errors, null, 2)}`).toBe(true);
  });

  it('a copy without info is reported invalid', async () => {
    const broken = structuredClone(doc);
    delete broken.info;
    const result = await validate(broken);
    expect(result.valid).toBe(false);
    expect(JSON.stringify(result.errors)).toContain('info');
  });
});
