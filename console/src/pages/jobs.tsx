// Training jobs: the list, newest first, with status, progress and the validation figure of finished ones.
import { dateTime, jobFraction, percent } from '../format.ts';
import { href } from '../router.ts';
import { api } from '../session.ts';
import { Status, useLoad } from '../ui/common.tsx';
import { ListTable } from '../ui/list-table.tsx';

export function JobsPage() {
  const list = useLoad((signal) => api().trainingJobs.list({ limit: 100 }, { signal }).page(), []);
  return (
    <>
      <h1>Training jobs</h1>
      <p class="muted">Start a job from a ready dataset's page.</p>
      <ListTable
        list={list}
        what="jobs"
        empty="No jobs yet."
        columns={['Job', 'Method', 'Status', 'Progress', 'Validation (adapted / zero-shot)', 'Created']}
        row={(j) => (
          <tr key={j.id}>
            <td>
              <a href={href('jobs', j.id)}>
                <code>{j.id}</code>
              </a>
            </td>
            <td>{j.method}</td>
            <td>
              <Status status={j.status} />
            </td>
            <td class="num">{percent(jobFraction(j.progress), 0)}</td>
            <td class="num">{j.result?.validation ? `${percent(j.result.validation.accuracy)} / ${percent(j.result.validation.zero_shot_accuracy)}` : '–'}</td>
            <td>{dateTime(j.created_at)}</td>
          </tr>
        )}
      />
    </>
  );
}
