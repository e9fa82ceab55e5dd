// One call of the public API with a bearer key: JSON (or FormData) in, parsed JSON out; throws with the status and
// body when the answer is not 2xx (or not `expectStatus` when given). Used by the benchmarks and the process tests.
export async function apiCall<T>(url: string, key: string, method: string, path: string, body?: unknown, expectStatus?: number): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  const init: RequestInit = { method, headers };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url + path, init);
  const text = await res.text();
  if (expectStatus !== undefined ? res.status !== expectStatus : !res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
