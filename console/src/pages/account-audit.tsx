// The audit log (GET /v1/audit-events): newest first, who changed what (keys, webhook endpoints, the operator's
// changes to the tenant), a page at a time with older events on request.
import { auditDetails } from '../account.ts';
import { dateTime } from '../format.ts';
import type { AuditEvent } from '../sdk.ts';
import { api } from '../session.ts';
import { ListTable } from '../ui/list-table.tsx';
import { MoreButton, usePagedList } from '../ui/paged-list.tsx';

function Actor({ actor }: { actor: AuditEvent['actor'] }) {
  if (actor.type === 'admin' || actor.id === null) return <>the operator (admin)</>;
  return (
    <>
      API key <code>{actor.id}</code>
    </>
  );
}

/** `version` changes when this page changed something that is audited (a key created or revoked): the log is read again. */
export function AuditLog({ version }: { version: number }) {
  const list = usePagedList((signal) => api().auditEvents.list({ limit: 50 }, { signal }).page(), [version]);
  return (
    <>
      <ListTable
        list={list}
        what="the audit log"
        empty="Nothing recorded yet."
        id="audit-table"
        columns={['Time', 'Action', 'By', 'Target', 'Details']}
        row={(e) => (
          <tr key={e.id} data-action={e.action}>
            <td>
              <time dateTime={e.created_at}>{dateTime(e.created_at)}</time>
            </td>
            <td>
              <code>{e.action}</code>
            </td>
            <td>
              <Actor actor={e.actor} />
            </td>
            <td>
              {e.target.type} <code class="audit-target">{e.target.id}</code>
            </td>
            <td class="wrap">{auditDetails(e)}</td>
          </tr>
        )}
      />
      <MoreButton list={list} label="Older events" id="audit-more" />
    </>
  );
}
