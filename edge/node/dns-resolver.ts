// Node's DNS for the webhook URL guard's delivery-time check (edge/webhooks/url-guard.ts resolveAndCheck).
import { lookup } from 'node:dns/promises';
import type { Resolver } from '../webhooks/url-guard.ts';

/** Every address the system resolver gives for `host` (IPv4 and IPv6). */
export const nodeResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
