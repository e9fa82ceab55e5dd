// GET /openapi.json linted with Spectral's `spectral:oas` ruleset (the recommended rules), the check SDK generators
// and API readers depend on: no errors, every operation with a unique operationId and a tag declared in the global
// `tags`, and no warning except those listed below with their reason. A broken copy shows the lint can fail.
import { Document, Spectral } from '@stoplight/spectral-core';
import Parsers from '@stoplight/spectral-parsers';
import { oas } from '@stoplight/spectral-rulesets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEdge, startTestEdge } from '../helpers/edge.ts';

/** Warnings accepted, with why. */
const ACCEPTED_WARNINGS: Record<string, string> = {
  'info-contact': 'who supports an installation is the operator’s to say, not the product’s',
};

interface Finding {
  code: string | number;
  severity: number;
  path: (string | number)[];
  message: string;
}

async function lint(doc: unknown): Promise<Finding[]> {
  const spectral = new Spectral();
  spectral.setRuleset({ extends: [oas as never] });
  return (await spectral.run(new Document(JSON.stringify(doc, null, 2), Parsers.Json))) as Finding[];
}
const show = (fs: Finding[]) => fs.map((f) => `${f.code} at ${f.path.join('.')}: ${f.message}`).join('\n');

let edge: TestEdge;
let doc: { paths: Record<string, Record<string, { operationId?: string; tags?: string[] }>>; tags: { name: string }[] };
beforeAll(async () => {
  edge = await startTestEdge();
  const res = await edge.fetch('/openapi.json');
  expect(res.status).toBe(200);
  doc = (await res.json()) as typeof doc;
});
afterAll(async () => {
  await edge?.close();
});

describe('GET /openapi.json under spectral:oas', () => {
  it('has no errors and no warnings but the accepted ones', async () => {
    const findings = await lint(doc);
    const errors = findings.filter((f) => f.severity === 0);
    expect(errors, show(errors)).toEqual([]);
    const warnings = findings.filter((f) => f.severity === 1 && !(String(f.code) in ACCEPTED_WARNINGS));
    expect(warnings, show(warnings)).toEqual([]);
  });

  it('every operation has a unique camelCase operationId and exactly one declared tag', () => {
    const declared = new Set(doc.tags.map((t) => t.name));
    const ids: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.operationId, `${method.toUpperCase()} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        expect(op.tags, `${method.toUpperCase()} ${path}`).toHaveLength(1);
        expect(declared.has(op.tags![0]), `${method.toUpperCase()} ${path}: tag ${op.tags![0]}`).toBe(true);
        ids.push(op.operationId!);
      }
    }
    expect(ids.length).toBeGreaterThan(40);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a copy with a tuple without `items`, a duplicate operationId and an undeclared tag is reported', async () => {
    const broken = structuredClone(doc) as unknown as {
      components: { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> };
      paths: typeof doc.paths;
    };
    delete broken.components.schemas.HyperparametersInput.properties.crop_scale.items;
    broken.paths['/v1/models']!.get!.operationId = 'getModel';
    broken.paths['/v1/datasets']!.get!.tags = ['Nowhere'];
    const codes = new Set((await lint(broken)).map((f) => f.code));
    expect(codes).toContain('array-items');
    expect(codes).toContain('operation-operationId-unique');
    expect(codes).toContain('operation-tag-defined');
  });
});
