// The tenant of the API key, its API keys and its audit log.
import type { RequestOptions } from '../core/http.ts';
import type { CursorList, PageParams } from '../core/pagination.ts';
import { APIResource, path } from '../core/resource.ts';
import type { ApiKey, ApiKeyCreateParams, ApiKeyCreated, AuditEvent, Me } from '../types.ts';

export class Tenant extends APIResource {
  /** GET /v1/me: the tenant, its quotas and what it uses of them. */
  retrieve(options?: RequestOptions): Promise<Me> {
    return this.http.request({ method: 'GET', path: '/v1/me' }, options);
  }
}

export class ApiKeys extends APIResource {
  /**
   * A new key of the same tenant; `api_key` is shown this once. (A replayed answer, after a lost response and a retry,
   * has `api_key: null`: revoke that key id and create another.)
   */
  create(params: ApiKeyCreateParams = {}, options?: RequestOptions): Promise<ApiKeyCreated> {
    return this.http.request({ method: 'POST', path: '/v1/api-keys', body: params }, options);
  }

  /** Newest first, revoked and expired keys included; never the key itself. */
  list(params: PageParams = {}, options?: RequestOptions): CursorList<ApiKey> {
    return this.cursorList<ApiKey>('/v1/api-keys', { ...params }, options);
  }

  /** The key stops working at once. */
  revoke(id: string, options?: RequestOptions): Promise<void> {
    return this.http.request({ method: 'DELETE', path: path`/v1/api-keys/${id}` }, options);
  }
}

export class AuditEvents extends APIResource {
  /** Newest first: who created or revoked keys and webhook endpoints, rotated secrets, ... (docs/API.md). */
  list(params: PageParams = {}, options?: RequestOptions): CursorList<AuditEvent> {
    return this.cursorList<AuditEvent>('/v1/audit-events', { ...params }, options);
  }
}
