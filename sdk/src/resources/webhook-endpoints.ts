// Webhook endpoints: where the API sends signed events; their secrets and delivery log.
import type { RequestOptions } from '../core/http.ts';
import type { CursorList, PageParams } from '../core/pagination.ts';
import { APIResource, path } from '../core/resource.ts';
import type {
  WebhookDelivery,
  WebhookDeliveryListParams,
  WebhookEndpoint,
  WebhookEndpointCreateParams,
  WebhookEndpointCreated,
  WebhookEndpointUpdateParams,
  WebhookSecretRotated,
} from '../types.ts';

export class WebhookEndpoints extends APIResource {
  /**
   * POST /v1/webhook-endpoints. The answer holds the signing `secret`, shown this once. (Should the answer be lost and
   * the call retried, the API replays it with `secret: null`: rotate the secret to get one.)
   */
  create(params: WebhookEndpointCreateParams, options?: RequestOptions): Promise<WebhookEndpointCreated> {
    return this.http.request({ method: 'POST', path: '/v1/webhook-endpoints', body: params }, options);
  }

  retrieve(id: string, options?: RequestOptions): Promise<WebhookEndpoint> {
    return this.http.request({ method: 'GET', path: path`/v1/webhook-endpoints/${id}` }, options);
  }

  /** Changes the URL, the events, or enables / disables the endpoint. */
  update(id: string, params: WebhookEndpointUpdateParams, options?: RequestOptions): Promise<WebhookEndpoint> {
    return this.http.request({ method: 'PATCH', path: path`/v1/webhook-endpoints/${id}`, body: params }, options);
  }

  /** Newest first. */
  list(params: PageParams = {}, options?: RequestOptions): CursorList<WebhookEndpoint> {
    return this.cursorList<WebhookEndpoint>('/v1/webhook-endpoints', { ...params }, options);
  }

  delete(id: string, options?: RequestOptions): Promise<void> {
    return this.http.request({ method: 'DELETE', path: path`/v1/webhook-endpoints/${id}` }, options);
  }

  /** A new signing secret; the old one keeps signing alongside it for 24 h. Not retried after an unknown outcome. */
  rotateSecret(id: string, options?: RequestOptions): Promise<WebhookSecretRotated> {
    return this.http.request({ method: 'POST', path: path`/v1/webhook-endpoints/${id}/rotate-secret`, retry: 'once' }, options);
  }

  /** The endpoint's deliveries, newest first, each with its attempts; `status` keeps one status. */
  deliveries(id: string, params: PageParams & Pick<WebhookDeliveryListParams, 'status'> = {}, options?: RequestOptions): CursorList<WebhookDelivery> {
    return this.cursorList<WebhookDelivery>(path`/v1/webhook-endpoints/${id}/deliveries`, { ...params }, options);
  }

  /** Sends a signed `webhook.test` event to this endpoint (202: the new delivery, pending). */
  test(id: string, options?: RequestOptions): Promise<WebhookDelivery> {
    return this.http.request({ method: 'POST', path: path`/v1/webhook-endpoints/${id}/test` }, options);
  }

  /** Sends a delivery again (same webhook-id and payload, current secrets). Not retried after an unknown outcome. */
  resendDelivery(deliveryId: string, options?: RequestOptions): Promise<WebhookDelivery> {
    return this.http.request({ method: 'POST', path: path`/v1/webhook-deliveries/${deliveryId}/resend`, retry: 'once' }, options);
  }
}
