// Billable usage of the tenant, per UTC day.
import type { RequestOptions } from '../core/http.ts';
import { APIResource } from '../core/resource.ts';
import type { UsageParams, UsageReport } from '../types.ts';

export class Usage extends APIResource {
  /**
   * GET /v1/usage: one bucket per UTC day from `from` to `to` (YYYY-MM-DD, both included; default: this month up to
   * today), oldest first, with the totals.
   */
  retrieve(params: UsageParams = {}, options?: RequestOptions): Promise<UsageReport> {
    return this.http.request({ method: 'GET', path: '/v1/usage', query: { ...params } }, options);
  }
}
