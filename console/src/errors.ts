// What a failed call tells the user: the API's own message (and the field it is about), or why no answer came.
// Every page hands its errors to handleError, which also signs out when the key was refused.
import { APIConnectionError, APIError, AuthenticationError, UploadError } from './sdk.ts';
import { signOut } from './session.ts';

export interface Problem {
  message: string;
  /** The request field at fault (`error.param`), e.g. "hyperparameters.epochs". */
  param?: string;
  code?: string;
  status?: number;
}

export function problemOf(err: unknown): Problem {
  if (err instanceof APIConnectionError) return { message: `No answer from the API: ${err.message}` };
  if (err instanceof APIError) {
    return { message: err.error?.message ?? err.message, ...(err.param ? { param: err.param } : {}), ...(err.code ? { code: err.code } : {}), ...(err.status ? { status: err.status } : {}) };
  }
  if (err instanceof UploadError) return { message: err.message };
  if (err instanceof Error) return { message: err.message };
  return { message: String(err) };
}

/** The problem of `err`; a refused key (401) also signs the console out, with the API's reason. */
export function handleError(err: unknown): Problem {
  const problem = problemOf(err);
  if (err instanceof AuthenticationError) signOut(`Signed out: ${problem.message}`);
  return problem;
}
