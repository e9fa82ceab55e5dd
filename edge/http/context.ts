// The Hono environment of the edge app: what every handler can read from `c.var`.
import type { TimingVariables } from 'hono/timing';
import type { EdgeConfig } from '../config.ts';
import type { Ports } from '../ports.ts';
import type { TenantLimits } from '../tenants/limits.ts';
import type { IdempotencyContext } from './idempotency.ts';

/** A tenant's API key. */
export interface TenantPrincipal {
  kind: 'tenant';
  tenantId: string;
  keyId: string;
  /** The tenant is suspended (POST /v1/tenants/{id}/suspend): `requireTenant` answers 403. */
  suspended: boolean;
  /** The tenant's overrides of quotas and rate limit (PATCH /v1/tenants/{id}), read with the key. */
  limits: TenantLimits;
}

/** The operator (ADMIN_TOKEN). */
export interface AdminPrincipal {
  kind: 'admin';
}

/** A GPU worker: the configured WORKER_TOKEN (workerId null) or a per-worker token issued by POST /v1/workers. */
export interface WorkerPrincipal {
  kind: 'worker';
  /** The per-worker token's id (`wkr_…`); null for the configured WORKER_TOKEN (bootstrap/legacy). */
  workerId: string | null;
}

export type Principal = TenantPrincipal | AdminPrincipal | WorkerPrincipal;

export interface AppVariables extends TimingVariables {
  ports: Ports;
  /** For a tenant's request (after `authenticate`), `quotas` are the tenant's effective quotas (edge/tenants/limits.ts). */
  config: EdgeConfig;
  /** Set by `authenticate` on every /v1 request that got past it. */
  principal: Principal;
  /** Set by `idempotent({ atomic })` when the request carries an Idempotency-Key (edge/http/idempotency.ts). */
  idempotency?: IdempotencyContext;
}

export interface AppEnv {
  Variables: AppVariables;
}

/** What `requireTenant` adds for the route's handler. */
export interface TenantEnv {
  Variables: AppVariables & { tenant: TenantPrincipal };
}
