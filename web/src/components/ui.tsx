import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { NavLink } from 'react-router';
import { ApiError } from '../api/client';
import { useI18n } from '../i18n/i18n';

/** Sets the document title for the page, in the current language. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Pier`;
  }, [title]);
}

/** Runs a form's action: busy while it runs, its error kept for the form to show where it happened. */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setBusy(true);
      setError(undefined);
      try {
        return await action(...args);
      } catch (failure) {
        if (mounted.current) setError(failure);
        return undefined;
      } finally {
        if (mounted.current) setBusy(false);
      }
    },
    [action],
  );
  return { run, busy, error, clearError: () => setError(undefined) };
}

/** An API failure in plain words: what kind of failure (in the reader's language), then the server's own detail. */
export function ErrorNotice({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  let headline = t('error.unexpected');
  let detail = '';
  let fields: Array<{ field: string; message: string }> = [];
  if (error instanceof ApiError) {
    const kind = error.kind;
    headline =
      kind === 'network' ? t('error.network')
      : kind === 'csrf' ? t('error.csrf')
      : kind === 'plan-limit' ? t('error.planLimit')
      : error.status === 400 || kind === 'validation' ? t('error.invalid')
      : error.status === 401 || kind === 'unauthorized' ? t('error.unauthorized')
      : error.status === 403 || kind === 'forbidden' ? t('error.forbidden')
      : error.status === 404 || kind === 'not-found' ? t('error.notFound')
      : error.status === 409 || kind === 'conflict' ? t('error.conflict')
      : error.status === 429 || kind === 'too-many-requests' ? t('error.tooManyRequests')
      : error.status >= 500 ? t('error.server')
      : t('error.unexpected');
    detail = error.problem.detail;
    fields = error.problem.errors ?? [];
  }
  return (
    <div className="notice notice-error" role="alert">
      <strong>{headline}</strong>
      {detail && <p>{detail}</p>}
      {fields.length > 0 && (
        <ul>
          {fields.map((f) => (
            <li key={f.field}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p className="loading" role="status">
      {t('common.loading')}
    </p>
  );
}

/** What a page shows while it loads, when loading failed, or its content. */
export function Loaded<T>({ state, children }: { state: { data: T | undefined; error: unknown; loading: boolean }; children: (data: T) => ReactNode }) {
  if (state.error) return <ErrorNotice error={state.error} />;
  if (state.loading && state.data === undefined) return <Loading />;
  if (state.data === undefined) return <Loading />;
  return <>{children(state.data)}</>;
}

export interface FieldProps {
  label: string;
  name: string;
  type?: 'text' | 'password' | 'email' | 'number' | 'search';
  value: string;
  onChange(value: string): void;
  required?: boolean;
  autoComplete?: string;
  hint?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  min?: number;
  /** what the server said is wrong with this value: shown under it, and the field marked invalid */
  error?: string;
}

export function Field({ label, name, type = 'text', value, onChange, required, autoComplete, hint, minLength, maxLength, pattern, min, error }: FieldProps) {
  const id = useId();
  const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        required={required}
        autoComplete={autoComplete}
        minLength={minLength}
        maxLength={maxLength}
        pattern={pattern}
        min={min}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
      />
      {hint && (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} className="field-error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

/**
 * A checkbox that shows its new state at once, even when what it sets comes back later (a filter in
 * the URL is a navigation away: until it lands, a box bound to the URL alone would not move).
 */
export function Checkbox({ label, checked, onChange, name }: { label: string; checked: boolean; onChange(checked: boolean): void; name?: string }) {
  const [shown, setShown] = useState(checked);
  useEffect(() => setShown(checked), [checked]);
  return (
    <label className="checkbox">
      <input
        type="checkbox"
        name={name}
        checked={shown}
        onChange={(e) => {
          setShown(e.target.checked);
          onChange(e.target.checked);
        }}
      />{' '}
      {label}
    </label>
  );
}

/**
 * A setting saved as soon as it is switched: it shows the new state at once, and goes back (with
 * the error said beside it) when the server refuses.
 */
export function Toggle({ label, checked, save, name }: { label: string; checked: boolean; save(checked: boolean): Promise<unknown>; name?: string }) {
  const [shown, setShown] = useState(checked);
  useEffect(() => setShown(checked), [checked]);
  const action = useAction(async (next: boolean) => {
    setShown(next);
    try {
      await save(next);
    } catch (error) {
      setShown(!next);
      throw error;
    }
  });
  return (
    <>
      <Checkbox label={label} name={name} checked={shown} onChange={(on) => void action.run(on)} />
      <ErrorNotice error={action.error} />
    </>
  );
}

export function Select<V extends string>({ label, value, options, onChange, name, hideLabel }: { label: string; value: V; options: Array<{ value: V; label: string }>; onChange(value: V): void; name?: string; hideLabel?: boolean }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id} className={hideLabel ? 'visually-hidden' : undefined}>
        {label}
      </label>
      <select id={id} name={name} value={value} onChange={(e) => onChange(e.target.value as V)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Submit({ busy, children }: { busy: boolean; children: ReactNode }) {
  return (
    <button type="submit" className="button primary" disabled={busy} aria-busy={busy}>
      {children}
    </button>
  );
}

/** Copies a secret or a command; says so for screen readers too. Falls back to selecting the text. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const { t } = useI18n();
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <>
      <button type="button" className="button" onClick={copy} aria-label={`${t('common.copy')}: ${label}`}>
        {t('common.copy')}
      </button>
      <span className="copy-state" role="status" aria-live="polite">
        {state === 'copied' ? t('common.copied') : state === 'failed' ? t('common.copyFailed') : ''}
      </span>
    </>
  );
}

/** A command or secret to copy: read-only text plus a copy button. */
export function CopyField({ label, text }: { label: string; text: string }) {
  const id = useId();
  return (
    <div className="field copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input id={id} readOnly value={text} onFocus={(e) => e.target.select()} className="mono" />
        <CopyButton text={text} label={`${label}: ${text.length > 40 ? text.slice(0, 20) + '…' : text}`} />
      </div>
    </div>
  );
}

/** How much of a plan's limit is used: a native meter (no inline style under the CSP), or "unlimited". */
export function UsageBar({ label, used, limit, format }: { label: string; used: number; limit: number | null; format(value: number): string }) {
  const { t } = useI18n();
  const id = useId();
  return (
    <div className="usage">
      <div className="usage-label">
        <span id={id}>{label}</span>
        <span>{limit === null ? t('usage.unlimited', { used: format(used) }) : t('usage.of', { used: format(used), limit: format(limit) })}</span>
      </div>
      {limit !== null && <meter aria-labelledby={id} min={0} max={Math.max(limit, 1)} value={Math.min(used, Math.max(limit, 1))} high={limit * 0.9} />}
    </div>
  );
}

export function Tabs({ label, items }: { label: string; items: Array<{ to: string; label: string; end?: boolean }> }) {
  return (
    <nav className="tabs" aria-label={label}>
      {items.map((item) => (
        <NavLink key={item.to} to={item.to} end={item.end ?? true}>
          {item.label}
        </NavLink>
      ))}
    </nav>
  );
}

/** A destructive button that asks once more, inline (keyboard and screen readers follow it). */
export function ConfirmButton({ label, confirmLabel, onConfirm, busy }: { label: string; confirmLabel: string; onConfirm(): void; busy?: boolean }) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" className="button danger-outline" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm">
      <button ref={confirmRef} type="button" className="button danger" disabled={busy} onClick={() => onConfirm()}>
        {confirmLabel}
      </button>
      <button type="button" className="button" onClick={() => setAsking(false)}>
        {t('common.cancel')}
      </button>
    </span>
  );
}

/** A table of rows with a caption for screen readers, column headers, and an unlabelled actions column when asked. */
export function DataTable({ caption, columns, actions, children }: { caption: string; columns: Array<string | false>; actions?: boolean; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.filter((c): c is string => c !== false).map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
            {actions && (
              <th scope="col">
                <span className="visually-hidden">{t('common.actions')}</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

export function Badge({ kind, children }: { kind: 'official' | 'verified' | 'private' | 'admin' | 'expired' | 'current' | 'neutral'; children: ReactNode }) {
  return <span className={`badge badge-${kind}`}>{children}</span>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
