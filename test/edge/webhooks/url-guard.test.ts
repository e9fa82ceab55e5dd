// The webhook URL guard: scheme, credentials, and every spelling of non-public addresses, statically
// and at delivery time through an injected resolver (DNS rebinding).
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, classifyAddress, parseIPv4, parseIPv6, resolveAndCheck } from '../../../edge/webhooks/url-guard.ts';

const PROD = { localMode: false };
const LOCAL = { localMode: true };

// [url, allowed in production, allowed in local mode]
const CASES: [string, boolean, boolean][] = [
  ['https://example.com/hook', true, true],
  ['https://example.com:8443/hook?x=1', true, true],
  ['https://93.184.216.34/hook', true, true],
  ['https://[2606:4700:4700::1111]/hook', true, true],
  ['http://example.com/hook', false, false],
  ['ftp://example.com/hook', false, false],
  ['javascript:alert(1)', false, false],
  ['not a url', false, false],
  ['https://user:pass@example.com/hook', false, false],
  ['https://user@example.com/hook', false, false],
  ['http://localhost:3000/hook', false, true],
  ['http://127.0.0.1:3000/hook', false, true],
  ['http://[::1]:3000/hook', false, true],
  ['https://localhost/hook', false, true],
  ['https://app.localhost/hook', false, true],
  ['https://127.0.0.1/', false, true],
  ['https://127.1/', false, true],
  ['https://2130706433/', false, true], // 127.0.0.1 as one decimal integer
  ['https://0x7f000001/', false, true], // hex integer
  ['https://0177.0.0.1/', false, true], // octal part
  ['https://0x7f.1/', false, true],
  ['https://10.0.0.1/', false, false],
  ['https://167772161/', false, false], // 10.0.0.1 as an integer
  ['https://172.16.5.4/', false, false],
  ['https://172.31.255.255/', false, false],
  ['https://172.32.0.1/', true, true],
  ['https://192.168.1.1/', false, false],
  ['https://0xc0a80101/', false, false], // 192.168.1.1 hex
  ['https://169.254.169.254/latest/meta-data', false, false], // cloud metadata, link-local
  ['https://100.64.0.1/', false, false], // CGNAT
  ['https://100.127.255.255/', false, false],
  ['https://100.128.0.1/', true, true],
  ['https://0.0.0.0/', false, false],
  ['https://0/', false, false],
  ['https://224.0.0.1/', false, false], // multicast
  ['https://255.255.255.255/', false, false],
  ['https://192.0.2.10/', false, false], // documentation
  ['https://[::]/', false, false],
  ['https://[::ffff:127.0.0.1]/', false, true], // IPv4-mapped loopback
  ['https://[::ffff:7f00:1]/', false, true], // same, hex form
  ['https://[::ffff:10.0.0.1]/', false, false],
  ['https://[::ffff:a9fe:a9fe]/', false, false], // mapped 169.254.169.254
  ['https://[::ffff:8.8.8.8]/', true, true],
  ['https://[::127.0.0.1]/', false, true], // IPv4-compatible
  ['https://[64:ff9b::10.0.0.1]/', false, false], // NAT64 of a private address
  ['https://[fe80::1]/', false, false],
  ['https://[febf::1]/', false, false],
  ['https://[fc00::1]/', false, false],
  ['https://[fd12:3456::1]/', false, false],
  ['https://[ff02::1]/', false, false],
  ['https://[2001:db8::1]/', false, false],
  ['https://[2002:7f00:1::]/', false, false], // 6to4 of 127.0.0.1
  ['https://intranet/hook', false, false], // single-label name
];

describe('checkWebhookUrl', () => {
  it.each(CASES)('%s → production %s, local mode %s', (url, prod, local) => {
    const p = checkWebhookUrl(url, PROD);
    expect(p.ok, JSON.stringify(p)).toBe(prod);
    const l = checkWebhookUrl(url, LOCAL);
    expect(l.ok, JSON.stringify(l)).toBe(local);
    if (!p.ok) expect(p.reason.length).toBeGreaterThan(10);
  });

  it('refuses URLs that are too long', () => {
    expect(checkWebhookUrl(`https://example.com/${'a'.repeat(3000)}`, PROD).ok).toBe(false);
  });
});

describe('address parsing', () => {
  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['10.1.258', '10.1.1.2'],
    ['1.2.3.4', '1.2.3.4'],
  ])('parseIPv4(%s) = %s', (host, dotted) => {
    expect(parseIPv4(host)?.join('.')).toBe(dotted);
  });

  it.each(['256.1.1.1', '1.2.3.4.5', 'example.com', '1..2', '0x', '08.1.1.1'])('parseIPv4(%s) is null', (h) => {
    if (h === '0x') expect(parseIPv4(h)?.join('.')).toBe('0.0.0.0'); // WHATWG: "0x" is zero
    else expect(parseIPv4(h)).toBeNull();
  });

  it('parses IPv6 forms', () => {
    expect(parseIPv6('::1')).toEqual([...new Array(15).fill(0), 1]);
    expect(parseIPv6('[::ffff:1.2.3.4]')).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4]);
    expect(parseIPv6('fe80::1%eth0')?.slice(0, 2)).toEqual([0xfe, 0x80]);
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toHaveLength(16);
    for (const bad of ['1:::2', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1.2.3.4']) expect(parseIPv6(bad), bad).toBeNull();
  });

  it('classifies names as null and addresses by range', () => {
    expect(classifyAddress('example.com')).toBeNull();
    expect(classifyAddress('8.8.8.8')).toBe('public');
    expect(classifyAddress('100.64.1.1')).toBe('cgnat');
    expect(classifyAddress('fd00::1')).toBe('unique-local');
    expect(classifyAddress('::')).toBe('unspecified');
  });
});

describe('resolveAndCheck (delivery time)', () => {
  const resolver = (table: Record<string, string[]>) => async (host: string) => {
    if (!(host in table)) throw new Error('ENOTFOUND');
    return table[host];
  };

  it('refuses a name that now resolves to a private address (DNS rebinding)', async () => {
    const r = resolver({ 'hooks.example.com': ['93.184.216.34', '10.0.0.7'] });
    const res = await resolveAndCheck('hooks.example.com', r, PROD);
    expect(res.ok).toBe(false);
  });

  it('accepts a name whose addresses are all public', async () => {
    const r = resolver({ 'hooks.example.com': ['93.184.216.34', '2606:4700::1'] });
    expect((await resolveAndCheck('hooks.example.com', r, PROD)).ok).toBe(true);
  });

  it('refuses mapped IPv6 answers and failed lookups', async () => {
    const r = resolver({ 'a.example.com': ['::ffff:169.254.169.254'], 'b.example.com': [] });
    expect((await resolveAndCheck('a.example.com', r, PROD)).ok).toBe(false);
    expect((await resolveAndCheck('b.example.com', r, PROD)).ok).toBe(false);
    expect((await resolveAndCheck('c.example.com', r, PROD)).ok).toBe(false);
  });

  it('allows loopback answers only in local mode, and checks literals without a resolver', async () => {
    const r = resolver({ localhost: ['127.0.0.1', '::1'] });
    expect((await resolveAndCheck('localhost', r, LOCAL)).ok).toBe(true);
    expect((await resolveAndCheck('localhost', r, PROD)).ok).toBe(false);
    expect((await resolveAndCheck('127.0.0.1', undefined, PROD)).ok).toBe(false);
    expect((await resolveAndCheck('[::1]', undefined, LOCAL)).ok).toBe(true);
    // No resolver (Workers): a name passes on its literal check.
    expect((await resolveAndCheck('hooks.example.com', undefined, PROD)).ok).toBe(true);
  });
});
