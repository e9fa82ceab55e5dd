// Sign-in with an API key: checked against GET /v1/me before it is kept (sessionStorage, this tab only).
import { useState } from 'preact/hooks';
import { type Problem, problemOf } from '../errors.ts';
import { signIn, signOutReason } from '../session.ts';
import { ErrorNote } from '../ui/common.tsx';

export function SignIn() {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (trimmed === '') return setProblem({ message: 'Paste an API key (ck_live_…).' });
    setBusy(true);
    setProblem(null);
    try {
      await signIn(trimmed);
      setKey('');
    } catch (err) {
      const p = problemOf(err);
      setProblem({ ...p, message: p.status === 401 ? `This key was refused: ${p.message}` : p.message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>CoCoOp console</h1>
      <p>Adapt CLIP to your images, watch it train, see where it errs, and try it on any labels.</p>
      {signOutReason.value ? (
        <div class="notice" role="alert">
          {signOutReason.value}
        </div>
      ) : null}
      <form onSubmit={submit} class="card">
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="ck_live_…"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-describedby="api-key-help"
        />
        <p id="api-key-help" class="muted">
          Kept in this tab's session storage only, until you sign out or close the tab. Never put in the page address.
        </p>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <ErrorNote problem={problem} />
      </form>
    </main>
  );
}
