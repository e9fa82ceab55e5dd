// API keys: the list (newest first, revoked and expired ones included, never the key itself), a new key with an
// optional expiry — shown once, in a read-only field with a copy button, and held only in this component's state (no
// URL, storage or log) — and revoke after an inline confirmation. The key this console is signed in with is not
// revoked from here: that would sign the console out mid-page.
import { useEffect, useRef, useState } from 'preact/hooks';
import { MAX_KEY_DAYS, keyState, parseKeyExpiry } from '../account.ts';
import { dateTime } from '../format.ts';
import type { ApiKey } from '../sdk.ts';
import { api, isSignedInWith } from '../session.ts';
import { useAction } from '../ui/action.ts';
import { ConfirmButton, ErrorNote, Status } from '../ui/common.tsx';
import { ListTable } from '../ui/list-table.tsx';
import { MoreButton, usePagedList } from '../ui/paged-list.tsx';

interface CreatedKey {
  id: string;
  /** The key itself; null when the answer was a replay of a request whose answer was lost (the key is not stored). */
  secret: string | null;
  expiresAt: string | null;
}

/** The new key, this once: focused and selected, a copy button, and the warning that it will not be shown again. */
function ShownOnce({ created, onDone }: { created: CreatedKey; onDone: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<string | null>(null);
  useEffect(() => {
    field.current?.focus();
    field.current?.select();
  }, [created]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.secret ?? '');
      setCopied('Copied to the clipboard.');
    } catch {
      field.current?.focus();
      field.current?.select();
      setCopied('This browser did not allow copying: the key is selected, copy it with Ctrl+C (⌘C on a Mac).');
    }
  };

  return (
    <div class="notice new-key" id="new-key">
      <p>
        Key <code>{created.id}</code> created; {created.expiresAt ? `it expires ${dateTime(created.expiresAt)}` : 'it never expires'}.
      </p>
      {created.secret === null ? (
        <p role="alert">
          The API answered a repeat of an earlier request, so the key cannot be shown: revoke <code>{created.id}</code> below and create another.
        </p>
      ) : (
        <>
          <label for="new-api-key">Your new API key</label>
          <span class="copy-row">
            <input id="new-api-key" ref={field} type="text" readOnly value={created.secret} autocomplete="off" spellcheck={false} aria-describedby="new-key-warning" />
            <button type="button" id="copy-key" onClick={() => void copy()}>
              Copy
            </button>
          </span>
          <p id="new-key-warning" class="warning">
            <strong>It will not be shown again.</strong> Copy it now and keep it somewhere safe: only its first characters are stored. If it is lost, revoke it and
            create another.
          </p>
          <p role="status" class="muted">
            {copied ?? ''}
          </p>
        </>
      )}
      <button type="button" id="hide-key" onClick={onDone}>
        Done: hide the key
      </button>
    </div>
  );
}

function NewKeyForm({ onCreated }: { onCreated: () => void }) {
  const [days, setDays] = useState('');
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const creating = useAction();
  const invalid = fieldError !== null || creating.problem?.param === 'expires_in_days';

  const submit = (e: Event) => {
    e.preventDefault();
    const parsed = parseKeyExpiry(days);
    if ('error' in parsed) return setFieldError(parsed.error);
    setFieldError(null);
    setCreated(null);
    void creating.run(async () => {
      const key = await api().apiKeys.create(parsed.params);
      // A replayed answer carries api_key: null although the type says string.
      setCreated({ id: key.id, secret: (key.api_key as string | null) ?? null, expiresAt: key.expires_at });
      setDays('');
      onCreated();
    });
  };

  return (
    <form class="card" onSubmit={submit}>
      <div class="field">
        <label for="key-expiry">Expires after (days, optional)</label>
        <input
          id="key-expiry"
          inputMode="numeric"
          value={days}
          onInput={(e) => setDays(e.currentTarget.value)}
          placeholder="never"
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby="key-expiry-help"
        />
        <small id="key-expiry-help">
          {fieldError ? <span class="field-error">{fieldError} </span> : null}A whole number from 1 to {MAX_KEY_DAYS}; empty: the key never expires. The API
          keeps no name for a key: it is known by its id and its first characters.
        </small>
      </div>
      <button type="submit" class="primary" id="create-key" disabled={creating.busy}>
        {creating.busy ? 'Creating…' : 'Create API key'}
      </button>
      <ErrorNote problem={creating.problem} title="Not created:" />
      {created ? <ShownOnce created={created} onDone={() => setCreated(null)} /> : null}
    </form>
  );
}

export function ApiKeysSection({ onChange }: { onChange: () => void }) {
  const list = usePagedList((signal) => api().apiKeys.list({ limit: 100 }, { signal }).page(), []);
  const revoking = useAction();
  const [revoked, setRevoked] = useState<string | null>(null);
  const changed = () => {
    list.reload();
    onChange();
  };

  const refuse = (k: ApiKey) => {
    setRevoked(null);
    revoking.setProblem({
      message:
        `this console is signed in with ${k.prefix}…, and revoking it would sign you out at once. ` +
        'To retire it, sign in with another key of this tenant and revoke it from there.',
    });
  };

  const revoke = (k: ApiKey) =>
    revoking.run(async () => {
      setRevoked(null);
      await api().apiKeys.revoke(k.id);
      setRevoked(`Key ${k.prefix}… (${k.id}) revoked: it no longer works.`);
      changed();
    });

  return (
    <>
      <NewKeyForm onCreated={changed} />
      <ListTable
        list={list}
        what="API keys"
        id="keys-table"
        columns={['Key', 'State', 'Created', 'Last used', 'Expires', 'Revoked', 'Revoke']}
        row={(k) => {
          const state = keyState(k);
          const inUse = isSignedInWith(k.prefix);
          return (
            <tr key={k.id} data-key-id={k.id}>
              <td>
                <code class="key-prefix">{k.prefix}…</code>
                {inUse ? (
                  <>
                    {' '}
                    <span class="tag in-use">this console</span>
                  </>
                ) : null}
                <br />
                <small>
                  <code>{k.id}</code>
                </small>
              </td>
              <td>
                <Status status={state} />
              </td>
              <td>{dateTime(k.created_at)}</td>
              <td>{k.last_used_at ? dateTime(k.last_used_at) : 'never'}</td>
              <td>{k.expires_at ? dateTime(k.expires_at) : 'never'}</td>
              <td>{dateTime(k.revoked_at)}</td>
              <td>
                {state === 'revoked' ? null : inUse ? (
                  <button type="button" class="danger revoke-in-use" onClick={() => refuse(k)}>
                    Revoke…
                  </button>
                ) : (
                  <ConfirmButton label="Revoke…" question={`Revoke ${k.prefix}…? It stops working at once.`} confirmLabel="Yes, revoke it" onConfirm={() => revoke(k)} />
                )}
              </td>
            </tr>
          );
        }}
      />
      <MoreButton list={list} label="More keys" />
      <div id="revoke-result">
        <ErrorNote problem={revoking.problem} title="Not revoked:" />
        <p role="status" class={revoked ? 'notice' : undefined}>
          {revoked ?? ''}
        </p>
      </div>
    </>
  );
}
