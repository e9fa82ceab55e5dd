// Which URLs may receive webhooks (SSRF guard). Web-standard code only (runs on Workers and Node).
//
// Production: `https:` only, no credentials in the URL, and the host must not be (or resolve to) a
// private, loopback, link-local, unique-local, CGNAT, multicast, reserved/documentation or unspecified
// address, whatever form it is written in (dotted IPv4, integer/hex/octal IPv4 hosts — the URL parser
// normalizes those to dotted form and parseIPv4 below accepts them too —, IPv4-mapped/-compatible/NAT64/
// 6to4 IPv6 carrying such an IPv4, [::1], fe80::/10, fc00::/7, …). Any port is fine.
// Local mode (`npm start`): additionally `http:` is accepted and loopback hosts (localhost, 127.0.0.0/8,
// [::1]) are allowed, so a developer can receive on their machine; other private ranges stay refused.
//
// Names are checked twice: `checkWebhookUrl` when the endpoint is created (the literal host), and
// `resolveAndCheck` by the dispatcher right before every delivery, against what the name resolves to
// *now* (DNS rebinding: a name that was public at creation may point inside later). The resolver is
// injected: on Node it is dns.promises.lookup (see nodeResolver in dispatcher.ts); on Cloudflare Workers
// there is no DNS API, so it is absent and only the literal host is checked — acceptable there because a
// Worker's fetch goes out through Cloudflare's network and cannot reach our private networks or loopback.
// Residual risk on Node with the global fetch: it resolves the name again after our check (a short TOCTOU
// window). edge/node/dns-resolver.ts guardedFetch closes it (the connect-time lookup is checked and is the
// address connected to) once it is the dispatcher's fetchImpl (docs/security.md G2).

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'reserved';

export interface UrlGuardOptions {
  localMode: boolean;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export const MAX_WEBHOOK_URL_LENGTH = 2048;

// ---- IP parsing -------------------------------------------------------------------------------

function parseIPv4Part(p: string): number | null {
  if (p === '') return null;
  if (/^0x[0-9a-f]*$/i.test(p)) return p.length === 2 ? 0 : parseInt(p.slice(2), 16);
  if (/^0[0-7]+$/.test(p)) return parseInt(p.slice(1), 8);
  if (/^(0|[1-9][0-9]*)$/.test(p)) return Number(p);
  return null;
}

/**
 * The 4 bytes of an IPv4 address in any form inet_aton / the URL standard accept: a.b.c.d, a.b.c,
 * a.b, a single integer, each part decimal, 0x-hex or 0-octal. Null when it is not one.
 */
export function parseIPv4(host: string): number[] | null {
  const h = host.endsWith('.') ? host.slice(0, -1) : host;
  const parts = h.split('.');
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseIPv4Part(p);
    if (n === null || !Number.isFinite(n)) return null;
    nums.push(n);
  }
  const last = nums.pop() as number;
  if (nums.some((n) => n > 255)) return null;
  if (last >= 256 ** (4 - nums.length)) return null;
  let value = last;
  for (let i = 0; i < nums.length; i++) value += nums[i] * 256 ** (3 - i);
  return [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
}

/** The 16 bytes of an IPv6 address (brackets and a %zone allowed), or null. */
export function parseIPv6(host: string): number[] | null {
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const zone = h.indexOf('%');
  if (zone >= 0) h = h.slice(0, zone);
  if (!h.includes(':')) return null;
  const lastColon = h.lastIndexOf(':');
  const lastPart = h.slice(lastColon + 1);
  if (lastPart.includes('.')) {
    // An embedded dotted IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(lastPart)) return null;
    const v4 = lastPart.split('.').map(Number);
    if (v4.some((n) => n > 255)) return null;
    h = `${h.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = h.split('::');
  if (halves.length > 2) return null;
  const group = (s: string) => (s === '' ? [] : s.split(':'));
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  const parse = (gs: string[]) => gs.map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN));
  const a = parse(head);
  const b = parse(rest);
  if ([...a, ...b].some(Number.isNaN)) return null;
  const total = a.length + b.length;
  let groups: number[];
  if (halves.length === 2) {
    if (total > 7) return null;
    groups = [...a, ...new Array(8 - total).fill(0), ...b];
  } else {
    if (total !== 8) return null;
    groups = a;
  }
  return groups.flatMap((g) => [g >> 8, g & 255]);
}

// ---- classification ---------------------------------------------------------------------------

function inV4(b: number[], net: [number, number, number, number], bits: number): boolean {
  const v = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  const n = ((net[0] << 24) | (net[1] << 16) | (net[2] << 8) | net[3]) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (v & mask) === (n & mask);
}

const V4_RANGES: [[number, number, number, number], number, AddressClass][] = [
  [[0, 0, 0, 0], 8, 'unspecified'], // "this network", 0.0.0.0 reaches the local host on Linux
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'cgnat'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link-local'], // includes cloud metadata 169.254.169.254
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'reserved'], // IETF protocol assignments
  [[192, 0, 2, 0], 24, 'reserved'], // TEST-NET-1
  [[192, 88, 99, 0], 24, 'reserved'], // 6to4 relay anycast
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'reserved'], // benchmarking
  [[198, 51, 100, 0], 24, 'reserved'], // TEST-NET-2
  [[203, 0, 113, 0], 24, 'reserved'], // TEST-NET-3
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'], // incl. 255.255.255.255 broadcast
];

export function classifyIPv4(b: number[]): AddressClass {
  for (const [net, bits, cls] of V4_RANGES) if (inV4(b, net, bits)) return cls;
  return 'public';
}

export function classifyIPv6(b: number[]): AddressClass {
  const zeroUpTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  const v4 = b.slice(12);
  if (zeroUpTo(16)) return 'unspecified';
  if (zeroUpTo(15) && b[15] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (deprecated compatible), ::ffff:0:a.b.c.d (SIIT): the IPv4 decides.
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return classifyIPv4(v4);
  if (zeroUpTo(12)) return classifyIPv4(v4);
  if (zeroUpTo(8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) return classifyIPv4(v4);
  // 64:ff9b::/96 NAT64 and 64:ff9b:1::/48 local-use NAT64: the embedded IPv4 decides / local.
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) {
    if (b.slice(4, 12).every((x) => x === 0)) return classifyIPv4(v4);
    return 'reserved';
  }
  if (b[0] === 0x20 && b[1] === 0x02) return classifyIPv4(b.slice(2, 6)) === 'public' ? 'public' : 'reserved'; // 6to4
  if (b[0] === 0x01 && b[1] === 0x00 && b.slice(2, 8).every((x) => x === 0)) return 'reserved'; // 100::/64 discard
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'reserved'; // documentation
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return 'reserved'; // Teredo
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link-local'; // fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return 'unique-local'; // fec0::/10 (old site-local)
  if ((b[0] & 0xfe) === 0xfc) return 'unique-local'; // fc00::/7
  if (b[0] === 0xff) return 'multicast';
  return 'public';
}

/** The class of an IP literal (any IPv4 form, IPv6 with or without brackets), or null for a name. */
export function classifyAddress(host: string): AddressClass | null {
  const v6 = parseIPv6(host);
  if (v6) return classifyIPv6(v6);
  const v4 = parseIPv4(host);
  if (v4) return classifyIPv4(v4);
  return null;
}

function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** Whether webhooks may go to an address of this class (public; loopback too in local mode). */
export function allowed(cls: AddressClass, opts: UrlGuardOptions): boolean {
  return cls === 'public' || (opts.localMode && cls === 'loopback');
}

function refusal(host: string, cls: AddressClass, opts: UrlGuardOptions): string {
  const local = opts.localMode ? '' : ' (loopback is allowed only in local mode)';
  return `The webhook host ${host} is a ${cls} address; webhooks go only to public internet addresses${cls === 'loopback' ? local : ''}.`;
}

// ---- URL check --------------------------------------------------------------------------------

/** Static check of a webhook URL (at creation). Names are checked again on delivery (resolveAndCheck). */
export function checkWebhookUrl(raw: string, opts: UrlGuardOptions): UrlCheck {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return { ok: false, reason: `The URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters.` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'Not a valid absolute URL; use e.g. https://example.com/webhooks.' };
  }
  if (url.protocol !== 'https:' && !(opts.localMode && url.protocol === 'http:')) {
    return {
      ok: false,
      reason: opts.localMode
        ? `Webhook URLs must use https: or http: (local mode), got "${url.protocol}".`
        : `Webhook URLs must use https:, got "${url.protocol}".`,
    };
  }
  if (url.username || url.password) return { ok: false, reason: 'Webhook URLs must not contain credentials (user:password@).' };
  const host = url.hostname;
  if (!host) return { ok: false, reason: 'The URL has no host.' };
  const cls = classifyAddress(host);
  if (cls !== null) {
    if (!allowed(cls, opts)) return { ok: false, reason: refusal(host, cls, opts) };
  } else if (isLocalhostName(host)) {
    if (!opts.localMode) return { ok: false, reason: refusal(host, 'loopback', opts) };
  } else if (!host.includes('.')) {
    return { ok: false, reason: `The webhook host "${host}" is not a fully qualified domain name.` };
  }
  if (url.protocol === 'http:') {
    // Local mode's http: is for the developer's own machine only.
    const loop = cls === 'loopback' || (cls === null && isLocalhostName(host));
    if (!loop) return { ok: false, reason: 'http: webhook URLs are allowed only for localhost, 127.0.0.1 or [::1] in local mode; use https:.' };
  }
  return { ok: true, url };
}

/** Resolves a host name to its addresses (all of them). */
export type Resolver = (host: string) => Promise<string[]>;

/**
 * The delivery-time check: the host's current addresses must all be allowed. IP literals are checked as
 * they are; names go through `resolver` when there is one (no resolver: Workers, see the header).
 */
export async function resolveAndCheck(host: string, resolver: Resolver | undefined, opts: UrlGuardOptions): Promise<UrlCheck | { ok: true }> {
  const literal = classifyAddress(host);
  if (literal !== null) return allowed(literal, opts) ? { ok: true } : { ok: false, reason: refusal(host, literal, opts) };
  if (isLocalhostName(host) && !opts.localMode) return { ok: false, reason: refusal(host, 'loopback', opts) };
  if (!resolver) return { ok: true };
  let addresses: string[];
  try {
    addresses = await resolver(host.replace(/\.$/, ''));
  } catch (err) {
    return { ok: false, reason: `DNS lookup of ${host} failed: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (addresses.length === 0) return { ok: false, reason: `${host} does not resolve to any address.` };
  for (const a of addresses) {
    const cls = classifyAddress(a);
    if (cls === null) return { ok: false, reason: `${host} resolved to an unreadable address ${a}.` };
    if (!allowed(cls, opts)) return { ok: false, reason: `${host} resolves to ${a}: ${refusal(a, cls, opts)}` };
  }
  return { ok: true };
}
