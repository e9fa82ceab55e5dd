// Training jobs: the list, newest first, with status, progress and the validation figure of finished ones.
import { dateTime, jobFraction, percent } from '../format.ts';
import { href } from '../router.ts';
import { api } from '../session.ts';
import { ErrorNote, Loading, Status, useLoad } from '../ui/common.tsx';

export function JobsPage() {
  const list = useLoad((signal) => api().trainingJobs.list({ limit: 100 }, { signal }).page(), []);
  return (
    <>
      <h1>Training jobs</h1>
      <p class="muted">Start a job from a ready dataset's page.</p>
      {list.loading && !list.data ? <Loading what="jobs" /> : null}
      <ErrorNote problem={list.problem} />
      {list.data && list.data.data.length === 0 ? <p class="muted">No jobs yet.</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <div class="table-scroll">
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Method</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Validation (adapted / zero-shot)</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((j) => (
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
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
