// Security review (docs/security.md): the webhook SSRF guard, beyond test/edge/webhooks/url-guard.test.ts.
//  - Every further spelling of a non-public host is refused by POST /v1/webhook-endpoints on a production edge
//    (real HTTP, real SQLite): expanded / SIIT / NAT64 / 6to4 / Teredo / site-local IPv6, IPv4-mapped forms of
//    private, link-local and CGNAT addresses, full-width and ideographic-dot IDN digits, percent-encoded dots,
//    trailing dots, upper case, octal/hex/integer IPv4; URL-parser confusions (`#@`, `\@`) land on the host the
//    dispatcher would really call.
//  - Delivery-time answers (DNS rebinding): every non-public answer form is refused, also when mixed with public
//    ones; the real Node resolver (edge/node/dns-resolver.ts) resolves localhost to loopback only.
//  - An endpoint stored while loopback was allowed (local mode) gets no request from a production dispatcher with
//    the real fetch: the URL is checked again right before every attempt.
//  - guardedFetch (edge/node/dns-resolver.ts), the fix for G2 once wired as the dispatcher's fetchImpl: the address
//    checked at connect time is the address connected to; a rebinding resolver (public for the dispatcher's check,
//    loopback for the connection) gets nothing through. Today startEdge still uses the global fetch, which resolves
//    the name again after the check (docs/security.md G2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardedFetch, nodeResolver } from '../../edge/node/dns-resolver.ts';
import { dispatchDueWebhooks } from '../../edge/webhooks/dispatcher.ts';
import { outboxStatements } from '../../edge/webhooks/outbox.ts';
import { webhookSettings } from '../../edge/webhooks/settings.ts';
import { checkWebhookUrl, classifyAddress, resolveAndCheck } from '../../edge/webhooks/url-guard.ts';
import { type TestEdge, jsonHeaders, startTestEdge } from '../helpers/edge.ts';
import { useEdgeAndReceiver } from '../helpers/edge-receiver.ts';

const PROD = { localMode: false };
const LOCAL = { localMode: true };

// [url, what it is]: refused in production; none is loopback-only, so local mode refuses them too unless marked.
const REFUSED: [string, string, 'loopback'?][] = [
  ['https://[0:0:0:0:0:0:0:1]/', 'expanded ::1', 'loopback'],
  ['https://[0000:0000:0000:0000:0000:ffff:7f00:0001]/', 'expanded, zero-padded IPv4-mapped 127.0.0.1', 'loopback'],
  ['https://[::ffff:0:127.0.0.1]/', 'SIIT ::ffff:0:0/96 of 127.0.0.1', 'loopback'],
  ['https://[::ffff:0:a00:1]/', 'SIIT of 10.0.0.1'],
  ['https://[::ffff:169.254.169.254]/', 'IPv4-mapped cloud metadata (dotted)'],
  ['https://[::ffff:192.168.0.1]/', 'IPv4-mapped 192.168/16'],
  ['https://[::ffff:172.16.0.1]/', 'IPv4-mapped 172.16/12'],
  ['https://[::ffff:100.64.0.1]/', 'IPv4-mapped CGNAT'],
  ['https://[::ffff:0.0.0.0]/', 'IPv4-mapped 0.0.0.0'],
  ['https://[::10.0.0.1]/', 'IPv4-compatible 10.0.0.1'],
  ['https://[::0.0.0.0]/', 'IPv4-compatible 0.0.0.0 (= ::)'],
  ['https://[64:ff9b::7f00:1]/', 'NAT64 of 127.0.0.1', 'loopback'],
  ['https://[64:ff9b::a9fe:a9fe]/', 'NAT64 of 169.254.169.254'],
  ['https://[64:ff9b:1::1]/', 'local-use NAT64 64:ff9b:1::/48'],
  ['https://[2002:c0a8:101::]/', '6to4 of 192.168.1.1'],
  ['https://[2002:a9fe:a9fe::1]/', '6to4 of 169.254.169.254'],
  ['https://[2001::1]/', 'Teredo 2001::/32'],
  ['https://[fec0::1]/', 'deprecated site-local fec0::/10'],
  ['https://[febf:ffff::1]/', 'top of fe80::/10'],
  ['https://[fd00:ec2::254]/', 'AWS IMDS IPv6 (unique-local)'],
  ['https://[100::1]/', 'discard prefix 100::/64'],
  ['https://[ff02::1]/', 'multicast'],
  ['https://[fe80::1%25eth0]/', 'zone id (the URL parser rejects it)'],
  ['https://１２７.０.０.１/', 'full-width digits (IDNA maps to 127.0.0.1)', 'loopback'],
  ['https://⑯⑨。②⑤④。⑯⑨｡②⑤④/', 'enclosed digits and ideographic dots (169.254.169.254)'],
  ['https://127%2E0%2E0%2E1/', 'percent-encoded dots', 'loopback'],
  ['https://127.0.0.1./', 'trailing dot', 'loopback'],
  ['https://2130706433./', 'integer with trailing dot', 'loopback'],
  ['https://0300.0250.0.1/', 'octal 192.168.0.1'],
  ['https://017700000001/', 'octal integer 127.0.0.1', 'loopback'],
  ['https://0x7f.0.0.1/', 'hex first part', 'loopback'],
  ['https://127.1.1.1/', 'all of 127/8', 'loopback'],
  ['https://0.0.0.0./', '0.0.0.0 with trailing dot'],
  ['https://LOCALHOST/', 'upper-case localhost', 'loopback'],
  ['https://localhost./', 'localhost with trailing dot', 'loopback'],
  ['https://api.LocalHost./', 'a *.localhost name', 'loopback'],
  ['https://127.0.0.1\\@example.com/', 'backslash before @: the host is 127.0.0.1', 'loopback'],
  ['https://198.18.0.1/', 'benchmarking 198.18/15'],
  ['https://192.88.99.1/', '6to4 relay anycast'],
  ['https://240.0.0.1/', 'reserved 240/4'],
  ['https://100.100.100.200/', 'CGNAT (Alibaba metadata)'],
];

describe('static check: more address forms', () => {
  it.each(REFUSED)('%s (%s) is refused in production', (url, _what, loopback) => {
    const p = checkWebhookUrl(url, PROD);
    expect(p.ok, JSON.stringify(p)).toBe(false);
    // Local mode allows loopback only (and only that).
    expect(checkWebhookUrl(url, LOCAL).ok).toBe(loopback === 'loopback');
  });

  it('parser confusions: the host checked is the host the URL really names', () => {
    const r = checkWebhookUrl('https://evil.example#@127.0.0.1/', PROD);
    expect(r.ok && r.url.hostname).toBe('evil.example'); // the fragment, not a credential: evil.example is called
    expect(checkWebhookUrl('https://127.0.0.1:443@evil.example/', PROD).ok).toBe(false); // credentials refused
    const v4compatPublic = checkWebhookUrl('https://[::8.8.8.8]/', PROD);
    expect(v4compatPublic.ok).toBe(true); // IPv4-compatible of a public address is public
  });
});

describe('POST /v1/webhook-endpoints on a production edge', () => {
  let edge: TestEdge;
  beforeAll(async () => {
    edge = await startTestEdge({ localMode: false });
  });
  afterAll(async () => {
    await edge?.close();
  });

  it('422 validation_failed (param url) for every form above, and nothing is stored', async () => {
    const t = await edge.createTenant('SSRF');
    for (const [url, what] of REFUSED) {
      const res = await edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ url }) });
      const body = (await res.json()) as { error: { code: string; param?: string } };
      expect([what, res.status, body.error.code, body.error.param]).toEqual([what, 422, 'validation_failed', 'url']);
    }
    expect(edge.db.raw.prepare('SELECT COUNT(*) AS n FROM webhook_endpoints').get()).toEqual({ n: 0 });
  });
});

describe('delivery-time answers (DNS rebinding)', () => {
  const BAD_ANSWERS = [
    '127.0.0.1', '::1', '::ffff:7f00:1', '::ffff:127.0.0.1', 'fe80::1', 'fe80::1%eth0', '64:ff9b::a9fe:a9fe', '0.0.0.0', '::',
    'fc00::1', 'fd00:ec2::254', '100.100.100.200', '169.254.169.254', '::ffff:0:a00:1', '2001:db8::1', '10.0.0.1', '192.168.1.1',
  ];
  it.each(BAD_ANSWERS)('an answer %s is refused, alone and mixed with a public one', async (answer) => {
    expect(classifyAddress(answer)).not.toBe('public');
    for (const answers of [[answer], ['93.184.216.34', answer], [answer, '2606:4700::1111']]) {
      expect((await resolveAndCheck('hooks.example.com', async () => answers, PROD)).ok, answers.join(',')).toBe(false);
    }
  });

  it('an unreadable answer is refused', async () => {
    expect((await resolveAndCheck('hooks.example.com', async () => ['not-an-ip'], PROD)).ok).toBe(false);
  });

  it('the real Node resolver: localhost resolves to loopback only (allowed in local mode, refused in production)', async () => {
    const addrs = await nodeResolver('localhost');
    expect(addrs.length).toBeGreaterThan(0);
    for (const a of addrs) expect(classifyAddress(a)).toBe('loopback');
    expect((await resolveAndCheck('localhost', nodeResolver, LOCAL)).ok).toBe(true);
    expect((await resolveAndCheck('localhost', nodeResolver, PROD)).ok).toBe(false);
    expect((await resolveAndCheck('localhost.', nodeResolver, PROD)).ok).toBe(false);
  });
});

describe('the dispatcher re-checks before every attempt', () => {
  const fx = useEdgeAndReceiver();

  it('an endpoint stored in local mode (loopback) gets nothing from a production dispatcher using the real fetch and DNS', async () => {
    const t = await fx.edge.createTenant('Recheck');
    const created = await fx.edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ url: `${fx.rx.url}/in` }) });
    expect(created.status).toBe(201);
    const ep = (await created.json()) as { id: string };
    // A second endpoint by name (localhost) to exercise the resolver path too.
    fx.edge.db.raw
      .prepare('INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at) SELECT ?, tenant_id, ?, events, secret, created_at FROM webhook_endpoints WHERE id = ?')
      .run('whe_byname', fx.rx.url.replace('127.0.0.1', 'localhost') + '/byname', ep.id);
    const stmts = await outboxStatements(fx.edge.db, t.id, 'training_job.succeeded', { id: 'job_x', status: 'succeeded', model_id: null, metrics: {} }, new Date());
    expect(stmts.length).toBe(2);
    await fx.edge.db.batch(stmts);

    const prod = webhookSettings({ localMode: false, resolver: nodeResolver, retryScheduleSeconds: [60], timeoutMs: 1000 });
    const summary = await dispatchDueWebhooks(fx.edge.ports, prod);
    expect(summary).toMatchObject({ claimed: 2, succeeded: 0, retrying: 2 });
    expect(fx.rx.received).toEqual([]);
    const errors = fx.edge.db.raw.prepare('SELECT error FROM webhook_attempts ORDER BY seq').all() as { error: string }[];
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(e.error).toMatch(/^refused: /);
  });
});

describe('guardedFetch: the checked address is the connected address (fix for G2)', () => {
  const fx = useEdgeAndReceiver();
  const port = () => new URL(fx.rx.url).port;

  it('connects to the address its resolver gave and the guard allowed, not to what the system DNS says', async () => {
    // rebind.example.com does not exist in the system DNS: a request arriving proves the pinned address was used.
    const f = guardedFetch(async (h) => (h === 'rebind.example.com' ? ['127.0.0.1'] : []), LOCAL);
    const res = await f(`http://rebind.example.com:${port()}/pinned`, { method: 'POST', body: '{}', redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(fx.rx.at('/pinned').map((r) => r.headers.host)).toEqual([`rebind.example.com:${port()}`]);
  });

  it('refuses at connect time in production; nothing is sent', async () => {
    const f = guardedFetch(async () => ['127.0.0.1'], PROD);
    await expect(f(`https://rebind.example.com:${port()}/refused`, { method: 'POST', body: '{}' })).rejects.toThrow(/fetch failed/);
    const mixed = guardedFetch(async () => ['93.184.216.34', '::ffff:10.0.0.1'], PROD);
    await expect(mixed(`https://rebind.example.com:${port()}/refused`, { method: 'POST', body: '{}' })).rejects.toThrow();
    expect(fx.rx.at('/refused')).toEqual([]);
  });

  it('with the dispatcher: a resolver answering public to the check and loopback to the connection is refused', async () => {
    const t = await fx.edge.createTenant('Rebinding');
    const created = await fx.edge.fetch('/v1/webhook-endpoints', { method: 'POST', headers: jsonHeaders(t.api_key), body: JSON.stringify({ url: `${fx.rx.url}/x` }) });
    const ep = (await created.json()) as { id: string };
    fx.edge.db.raw.prepare('UPDATE webhook_endpoints SET url = ? WHERE id = ?').run(`https://rebind.example.com:${port()}/rebound`, ep.id);
    await fx.edge.db.batch(await outboxStatements(fx.edge.db, t.id, 'training_job.succeeded', { id: 'job_r', status: 'succeeded', model_id: null, metrics: {} }, new Date()));
    let calls = 0;
    const rebinding = async () => (calls++ === 0 ? ['93.184.216.34'] : ['127.0.0.1']);
    const prod = webhookSettings({ localMode: false, resolver: rebinding, retryScheduleSeconds: [60], timeoutMs: 2000 });
    const summary = await dispatchDueWebhooks(fx.edge.ports, prod, new Date(), guardedFetch(rebinding, PROD));
    expect(summary).toMatchObject({ claimed: 1, succeeded: 0, retrying: 1 });
    expect(calls).toBe(2); // the dispatcher's check passed (public), the connection's lookup refused (loopback)
    expect(fx.rx.at('/rebound')).toEqual([]);
    const [attempt] = fx.edge.db.raw
      .prepare('SELECT a.error FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = ?')
      .all(ep.id) as { error: string }[];
    expect(attempt.error).toMatch(/refused: rebind\.example\.com resolves to 127\.0\.0\.1/);
  });
});

