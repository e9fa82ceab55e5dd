// The one environment setting that chooses the TF.js backend, for every process (worker process, trainer, CLI,
// scripts): COCOOP_TF_BACKEND. TF_BACKEND, which the trainer used to read, still works as a deprecated alias and
// says so once per process.
export const TF_BACKEND_ENV = 'COCOOP_TF_BACKEND';
export const DEPRECATED_TF_BACKEND_ENV = 'TF_BACKEND';

/** auto: the first backend that loads (tfjs-node-gpu → tfjs-node → wasm); the others force one backend. */
export const TF_BACKEND_CHOICES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type TfBackendChoice = (typeof TF_BACKEND_CHOICES)[number];

let deprecationNoticeGiven = false;

/**
 * The backend the environment asks for and the variable that said so, or null when neither variable is set.
 * COCOOP_TF_BACKEND wins over TF_BACKEND; an unknown value is an error naming the variable.
 */
export function tfBackendFromEnv(
  env: Record<string, string | undefined> = process.env,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): { choice: TfBackendChoice; variable: string } | null {
  let variable = TF_BACKEND_ENV;
  let value = env[TF_BACKEND_ENV]?.trim();
  if (!value) {
    value = env[DEPRECATED_TF_BACKEND_ENV]?.trim();
    if (!value) return null;
    variable = DEPRECATED_TF_BACKEND_ENV;
    if (!deprecationNoticeGiven) {
      deprecationNoticeGiven = true;
      log(`${DEPRECATED_TF_BACKEND_ENV} is deprecated: set ${TF_BACKEND_ENV}=${value} instead`);
    }
  }
  if (!(TF_BACKEND_CHOICES as readonly string[]).includes(value)) {
    throw new Error(`${variable} must be one of ${TF_BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return { choice: value as TfBackendChoice, variable };
}
