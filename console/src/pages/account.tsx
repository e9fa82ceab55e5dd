// The account: the tenant and its plan (quotas, what is used of them, the request limit) from GET /v1/me, billable
// usage per day, API keys, and the audit log.
import { useState } from 'preact/hooks';
import { QUOTA_ROWS } from '../account.ts';
import { count, percent } from '../format.ts';
import type { Me } from '../sdk.ts';
import { api, tenant } from '../session.ts';
import { Bar, ErrorNote, Loading, Section, useLoad } from '../ui/common.tsx';
import { AuditLog } from './account-audit.tsx';
import { ApiKeysSection } from './account-keys.tsx';
import { UsageSection } from './account-usage.tsx';

function Plan({ me }: { me: Me }) {
  return (
    <>
      <p class="meta">
        <strong id="tenant-name">{me.name}</strong> · <code id="tenant-id">{me.id}</code>
      </p>
      <div class="table-scroll">
        <table class="list" id="quotas-table">
          <caption>Quotas: what this tenant may hold at once, and what it holds now</caption>
          <thead>
            <tr>
              <th scope="col">Quota</th>
              <th scope="col" class="num">
                Used
              </th>
              <th scope="col" class="num">
                Limit
              </th>
              <th scope="col">Share used</th>
            </tr>
          </thead>
          <tbody>
            {QUOTA_ROWS.map((r) => {
              const used = me.usage[r.quota];
              const limit = me.quotas[r.quota];
              const share = limit > 0 ? used / limit : 1;
              return (
                <tr key={r.quota} data-quota={r.quota}>
                  <th scope="row">{r.label}</th>
                  <td class="num quota-used">{r.format(used)}</td>
                  <td class="num quota-limit">{r.format(limit)}</td>
                  <td>
                    <Bar fraction={share} kind="progress" label={used >= limit ? `${percent(share)} (full)` : percent(share)} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p id="rate-limit">
        Requests: up to {count(me.rate_limit.requests_per_window)} per {count(me.rate_limit.window_seconds)} s for each API key (over that, the API answers 429 with
        Retry-After).
      </p>
      <p class="muted">Going over a quota is refused (409) with a message naming it; nothing is deleted. The operator sets the plan.</p>
    </>
  );
}

export function AccountPage() {
  const me = useLoad(async (signal) => {
    const m = await api().tenant.retrieve({ signal });
    tenant.value = m;
    return m;
  }, []);
  // Bumped when a key is created or revoked: the audit log shows it.
  const [version, setVersion] = useState(0);
  return (
    <>
      <h1>Account</h1>
      <Section title="Tenant and plan" id="plan-heading">
        {me.data ? <Plan me={me.data} /> : me.problem ? <ErrorNote problem={me.problem} /> : <Loading what="the tenant" />}
      </Section>
      <Section title="Usage" id="usage-heading">
        <UsageSection />
      </Section>
      <Section title="API keys" id="keys-heading">
        <ApiKeysSection onChange={() => setVersion((v) => v + 1)} />
      </Section>
      <Section title="Audit log" id="audit-heading">
        <AuditLog version={version} />
      </Section>
    </>
  );
}
