// A fixture for webhook tests: a local-mode test edge and a real receiver, opened before the file (or the describe
// block it is called in) and closed after it.
import { afterAll, beforeAll } from 'vitest';
import { type TestEdge, startTestEdge } from './edge.ts';
import { type WebhookReceiver, startReceiver } from './webhook-receiver.ts';

export interface EdgeAndReceiver {
  edge: TestEdge;
  rx: WebhookReceiver;
}

export function useEdgeAndReceiver(): EdgeAndReceiver {
  const fx = {} as EdgeAndReceiver;
  beforeAll(async () => {
    fx.edge = await startTestEdge({ localMode: true });
    fx.rx = await startReceiver();
  });
  afterAll(async () => {
    await fx.rx?.close();
    await fx.edge?.close();
  });
  return fx;
}
