// Who is signed in: the API key lives in sessionStorage only (gone when the tab closes; never in the URL, a cookie or
// a log line) and in the SDK client made from it. A key the API refuses (revoked, expired) signs the console out with
// the API's own message, shown on the sign-in page.
import { computed, signal } from '@preact/signals';
import { isSignedInKey } from './account.ts';
import { resetRoute } from './router.ts';
import { AuthenticationError, CoCoOp, type Me } from './sdk.ts';

const STORAGE_KEY = 'cocoop.console.apiKey';

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

const apiKey = signal<string | null>(storedKey());
/** The tenant of the key (GET /v1/me), once known. */
export const tenant = signal<Me | null>(null);
/** Why the console signed out by itself (e.g. the key was revoked), for the sign-in page. */
export const signOutReason = signal<string | null>(null);
export const signedIn = computed(() => apiKey.value !== null);

/** Things to forget on sign-out (e.g. thumbnails of this session's uploads). */
const onSignOut = new Set<() => void>();
export function whenSignedOut(forget: () => void): void {
  onSignOut.add(forget);
}

function clientFor(key: string): CoCoOp {
  return new CoCoOp({ baseURL: location.origin, apiKey: key });
}

const client = computed(() => (apiKey.value === null ? null : clientFor(apiKey.value)));

/** The API client of the signed-in key (pages render only while signed in). */
export function api(): CoCoOp {
  const c = client.value;
  if (!c) throw new Error('Not signed in.');
  return c;
}

/** Whether the listed key with this display prefix is the one this console is signed in with (the key itself stays here). */
export function isSignedInWith(prefix: string): boolean {
  return isSignedInKey(prefix, apiKey.value);
}

/** Checks the key with GET /v1/me, then keeps it for this tab. Rejects with the API's error when it is refused. */
export async function signIn(key: string): Promise<void> {
  const me = await clientFor(key).tenant.retrieve();
  sessionStorage.setItem(STORAGE_KEY, key);
  signOutReason.value = null;
  tenant.value = me;
  apiKey.value = key;
}

export function signOut(reason: string | null = null): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: nothing was kept.
  }
  apiKey.value = null;
  tenant.value = null;
  signOutReason.value = reason;
  for (const forget of onSignOut) forget();
  resetRoute();
}

/** After a reload with a kept key: who it belongs to, or a sign-out when it no longer works. */
export async function resumeSession(): Promise<void> {
  const c = client.value;
  if (!c) return;
  try {
    tenant.value = await c.tenant.retrieve();
  } catch (err) {
    if (err instanceof AuthenticationError) signOut(`Signed out: ${err.error?.message ?? err.message}`);
  }
}
