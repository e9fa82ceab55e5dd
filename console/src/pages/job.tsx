// One training job, live: status, epoch, progress and ETA, the event log, per-epoch charts of loss and accuracy
// (training and validation) from the job's metrics events; once it succeeded, its validation block (per-class bars,
// confusion matrix) and a link to try the model; cancel while it runs.
import { useEffect, useState } from 'preact/hooks';
import { dateTime, duration, eta, jobFraction, percent } from '../format.ts';
import { type Problem, handleError } from '../errors.ts';
import { href } from '../router.ts';
import type { TrainingJob, TrainingJobEvent } from '../sdk.ts';
import { api } from '../session.ts';
import { epochMetrics } from '../job-metrics.ts';
import { LineChart } from '../ui/chart.tsx';
import { useAction } from '../ui/action.ts';
import { DetailHeader, ErrorNote, Loading, Section, Status } from '../ui/common.tsx';
import { ScoresView } from '../ui/scores.tsx';

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
const POLL_MS = 1000;

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((ok) => {
    const t = setTimeout(ok, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), ok()), { once: true });
  });
}

/** Polls the job and its new events every second until it is final (or the page is left). */
function useLiveJob(id: string) {
  const [job, setJob] = useState<TrainingJob | null>(null);
  const [events, setEvents] = useState<TrainingJobEvent[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let after: string | undefined;
    let seen: TrainingJobEvent[] = [];
    setJob(null);
    setEvents([]);
    (async () => {
      while (!signal.aborted) {
        try {
          const current = await api().trainingJobs.retrieve(id, { signal });
          for await (const e of api().trainingJobs.events(id, { after, limit: 100 }, { signal })) {
            seen = [...seen, e];
            after = e.id;
          }
          if (signal.aborted) return;
          setJob(current);
          setEvents(seen);
          setProblem(null);
          if (FINAL.has(current.status)) return;
        } catch (err) {
          if (signal.aborted) return;
          setProblem(handleError(err));
        }
        await wait(POLL_MS, signal);
      }
    })();
    return () => controller.abort();
  }, [id, tick]);
  return { job, events, problem, refresh: () => setTick((t) => t + 1) };
}

function Progress({ job }: { job: TrainingJob }) {
  const fraction = job.status === 'succeeded' ? 1 : jobFraction(job.progress);
  const left = FINAL.has(job.status) ? null : eta(job.started_at, fraction);
  const took = job.started_at && job.finished_at ? new Date(job.finished_at).getTime() - new Date(job.started_at).getTime() : null;
  return (
    <div class="progress-block">
      <p role="status" aria-live="polite" id="job-status">
        <Status status={job.status} /> epoch {Math.min(job.progress.epoch, job.progress.epochs)} of {job.progress.epochs}
        {job.progress.steps > 0 ? `, step ${job.progress.step} of ${job.progress.steps}` : ''} · {percent(fraction, 0)}
        {left !== null ? ` · about ${duration(left)} left` : ''}
        {took !== null ? ` · took ${duration(took)}` : ''}
      </p>
      <label for="job-progress">Training progress</label>
      <progress id="job-progress" max={1} value={fraction} />
    </div>
  );
}

export function JobPage({ id }: { id: string }) {
  const { job, events, problem, refresh } = useLiveJob(id);
  const cancelling = useAction();
  if (!job) return problem ? <ErrorNote problem={problem} /> : <Loading what="the job" />;

  const metrics = epochMetrics(events);
  const epochs = metrics.map((m) => m.epoch);
  const validation = job.result?.validation ?? null;
  const cancel = () =>
    cancelling.run(async () => {
      await api().trainingJobs.cancel(job.id);
      refresh();
    });

  return (
    <>
      <DetailHeader back={href('jobs')} backTitle="Training jobs">
        Job <code>{job.id}</code>
      </DetailHeader>
      <p class="meta">
        {job.method} on <a href={href('datasets', job.dataset_id)}>dataset {job.dataset_id}</a> · created {dateTime(job.created_at)}
      </p>
      <Progress job={job} />
      <ErrorNote problem={problem} />
      {job.error ? <ErrorNote problem={{ message: `${job.error.code}: ${job.error.message}` }} title="The job failed:" /> : null}
      {!FINAL.has(job.status) && job.status !== 'cancelling' ? (
        <p>
          <button type="button" class="danger" id="cancel-job" onClick={cancel}>
            Cancel job
          </button>
        </p>
      ) : null}
      <ErrorNote problem={cancelling.problem} />
      {job.model_id ? (
        <p>
          Published model: <a href={href('models', job.model_id)} id="model-link">{job.model_id}</a> — open it to try it on your images and labels.
        </p>
      ) : null}
      <Section title="Training curves">
        {metrics.length === 0 ? (
          <p class="muted">The charts appear after the first epoch.</p>
        ) : (
          <div class="charts" id="charts">
            <LineChart title="Loss per epoch" xLabel="Epoch" x={epochs} series={[{ label: 'training loss', values: metrics.map((m) => m.loss), color: '#b3541e' }]} />
            <LineChart
              title="Accuracy per epoch"
              xLabel="Epoch"
              x={epochs}
              yRange={[0, 1]}
              series={[
                { label: 'training accuracy', values: metrics.map((m) => m.accuracy), color: '#1f5fbf' },
                { label: 'validation accuracy', values: metrics.map((m) => m.val_accuracy), color: '#2f7d32', dash: [6, 4] },
              ]}
            />
          </div>
        )}
      </Section>
      {validation ? (
        <Section title="Validation">
          <ScoresView scores={validation} what="Held-out images" />
        </Section>
      ) : job.status === 'succeeded' ? (
        <p class="muted">Nothing was held out for validation (validation_split 0).</p>
      ) : null}
      <Section title="Events">
        <ol class="events" id="events">
          {events.map((e) => (
            <li key={e.id} class={`event-${e.level}`}>
              <time>{new Date(e.created_at).toLocaleTimeString()}</time> {e.level !== 'info' ? <strong>{e.level}: </strong> : null}
              {e.message}
            </li>
          ))}
        </ol>
      </Section>
    </>
  );
}
