// Billable usage (GET /v1/usage): a from/to pair of UTC days, this month by default, and one row per day with the
// totals under them. A range the API refuses (from after to, over 366 days) shows its 422 message on the field it names.
import { useState } from 'preact/hooks';
import { USAGE_METERS, currentMonth } from '../account.ts';
import type { UsageReport } from '../sdk.ts';
import { api } from '../session.ts';
import { ErrorNote, Loading, useLoad } from '../ui/common.tsx';

function UsageTable({ report }: { report: UsageReport }) {
  return (
    <div class="table-scroll">
      <table class="list usage" id="usage-table">
        <caption>
          Usage from {report.from} to {report.to} (UTC days)
        </caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {USAGE_METERS.map((m) => (
              <th scope="col" key={m.head} class="num">
                {m.head}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {report.data.map((d) => (
            <tr key={d.date}>
              <th scope="row">{d.date}</th>
              {USAGE_METERS.map((m) => (
                <td key={m.head} class="num">
                  {m.day(d)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr id="usage-totals">
            <th scope="row">Total</th>
            {USAGE_METERS.map((m) => (
              <td key={m.head} class="num">
                {m.total(report.totals)}
              </td>
            ))}
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

export function UsageSection() {
  const [range, setRange] = useState(() => currentMonth());
  const [from, setFrom] = useState(range.from);
  const [to, setTo] = useState(range.to);
  const report = useLoad(
    (signal) => api().usage.retrieve({ ...(range.from ? { from: range.from } : {}), ...(range.to ? { to: range.to } : {}) }, { signal }),
    [range.from, range.to],
  );
  const fault = report.problem?.param;

  const show = (e: Event) => {
    e.preventDefault();
    if (from === range.from && to === range.to) report.reload();
    else setRange({ from, to });
  };

  return (
    <>
      <p class="muted">
        What is billed, per UTC day: successful classify and embedding calls, the running time of training jobs and evaluations (on the day each ended),
        and the day's storage snapshot. An empty date takes the API's default (to: today; from: the first day of that month).
      </p>
      <form class="card range-form" onSubmit={show}>
        <DayField name="from" label="From (UTC day)" value={from} onInput={setFrom} invalid={fault === 'from'} />
        <DayField name="to" label="To (UTC day, included)" value={to} onInput={setTo} invalid={fault === 'to'} />
        <button type="submit" class="primary" id="usage-show" disabled={report.loading}>
          Show usage
        </button>
      </form>
      <div id="usage-error">
        <ErrorNote problem={report.problem} title="Usage not shown:" />
      </div>
      {report.loading && !report.data ? <Loading what="usage" /> : null}
      {report.data ? <UsageTable report={report.data} /> : null}
      {report.data ? (
        <p class="muted">
          Durations are running time (queue time not counted). Storage is the day's snapshot, taken early in the day (– : none that day); its total is the
          sum of the snapshots, one day each.
        </p>
      ) : null}
    </>
  );
}

/** A labelled date input of the range (`usage-<name>`), marked invalid with the error's text when the API refused it. */
function DayField(p: { name: 'from' | 'to'; label: string; value: string; onInput: (v: string) => void; invalid: boolean }) {
  return (
    <span class="field">
      <label for={`usage-${p.name}`}>{p.label}</label>
      <input
        id={`usage-${p.name}`}
        type="date"
        value={p.value}
        onInput={(e) => p.onInput(e.currentTarget.value)}
        aria-invalid={p.invalid ? 'true' : undefined}
        aria-describedby={p.invalid ? 'usage-error' : undefined}
      />
    </span>
  );
}
