// KEDA's metrics-api scaler as infra/k8s/scaledobject.yaml configures it, for tests: the trigger read from the YAML
// (url, valueLocation, targetValue, authMode and the TriggerAuthentication it names) and one query of a running edge the
// way the scaler makes it: GET of the url's path with "Authorization: Bearer <token>", then the number at valueLocation.
// valueLocation is GJSON in KEDA; only its simple dotted form (keys joined by dots) is read here, and metricsApiTrigger
// refuses any other form so the YAML cannot drift into syntax this reading would get wrong.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const SCALED_OBJECT_PATH = resolve(process.cwd(), 'infra/k8s/scaledobject.yaml');
export const DOTTED_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export interface MetricsApiTrigger {
  url: string;
  valueLocation: string;
  targetValue: string;
  authMode: string;
  /** The TriggerAuthentication's secretTargetRef parameters. */
  authParameters: string[];
  scaleTargetName: string;
}

interface K8sDoc {
  kind?: string;
  metadata?: { name?: string };
  spec?: Record<string, unknown>;
}

export function metricsApiTrigger(path = SCALED_OBJECT_PATH): MetricsApiTrigger {
  const docs = parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as K8sDoc;
  });
  const scaled = docs.filter((d) => d.kind === 'ScaledObject');
  if (scaled.length !== 1) throw new Error(`${path}: expected one ScaledObject, found ${scaled.length}`);
  const spec = scaled[0].spec as { scaleTargetRef: { name: string }; triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[] };
  const triggers = spec.triggers.filter((t) => t.type === 'metrics-api');
  if (triggers.length !== 1) throw new Error(`${path}: expected one metrics-api trigger, found ${triggers.length}`);
  const t = triggers[0];
  const authName = t.authenticationRef?.name;
  const auth = docs.find((d) => d.kind === 'TriggerAuthentication' && d.metadata?.name === authName);
  if (!auth) throw new Error(`${path}: no TriggerAuthentication named ${authName}`);
  const refs = (auth.spec as { secretTargetRef: { parameter: string }[] }).secretTargetRef;
  if (!DOTTED_PATH.test(t.metadata.valueLocation)) throw new Error(`${path}: valueLocation ${t.metadata.valueLocation} is not a simple dotted path`);
  return {
    url: t.metadata.url,
    valueLocation: t.metadata.valueLocation,
    targetValue: t.metadata.targetValue,
    authMode: t.metadata.authMode,
    authParameters: refs.map((r) => r.parameter),
    scaleTargetName: spec.scaleTargetRef.name,
  };
}

/** The value at a simple dotted path (`a.b.c`) of parsed JSON; undefined when a key is missing. */
export function valueAt(body: unknown, dotted: string): unknown {
  let v: unknown = body;
  for (const key of dotted.split('.')) {
    if (v === null || typeof v !== 'object' || !(key in v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** One scaler query of the edge at `base` (the trigger's host replaced by it): the HTTP status and the metric value. */
export async function queryAsKeda(base: string, trigger: MetricsApiTrigger, token: string | null): Promise<{ status: number; value: unknown }> {
  const path = new URL(trigger.url).pathname;
  const res = await fetch(base + path, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as unknown;
  return { status: res.status, value: res.status === 200 ? valueAt(body, trigger.valueLocation) : undefined };
}
