// A minimal client of the public API for the demo: JSON in and out, bearer auth, and errors that carry the
// API's own error code and message.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** Sends `body` as JSON (or as-is when it is FormData) and returns the parsed JSON answer; throws ApiError on a non-2xx. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, body: payload });
    } catch (err) {
      throw new ApiError(0, 'unreachable', `${method} ${path}: ${this.baseUrl} is not reachable (${(err as Error).message}); is the stack running (\`npm start\`)?`);
    }
    const text = await res.text();
    if (!res.ok) {
      let code = 'http_error';
      let message = text.slice(0, 300);
      try {
        const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
        if (e?.code) code = e.code;
        if (e?.message) message = e.message;
      } catch {
        // not JSON: keep the raw text
      }
      throw new ApiError(res.status, code, `${method} ${path}: ${res.status} ${code}: ${message}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  withToken(token: string): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }
}
