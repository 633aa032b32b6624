// Account settings: one route module (lazy-loaded), a tab per concern.
import { useState, type FormEvent } from 'react';
import { Navigate, Outlet, useNavigate, useSearchParams } from 'react-router';
import { api } from '../../api/browser';
import { ApiError, seg } from '../../api/client';
import { useSession } from '../../api/session';
import type { AccessToken, CreatedToken, Me, Paged, PullLimit, Session, Usage } from '../../api/types';
import type { Loaded as LoadState } from '../../components/use-load';
import { RequireSession } from '../../components/require-session';
import { TokenForm, TokenList } from '../../components/tokens';
import { Badge, ConfirmButton, DataTable, Empty, ErrorNotice, Field, Loaded, Submit, Tabs, Toggle, UsageBar, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';

export function SettingsLayout() {
  const { t } = useI18n();
  return (
    <RequireSession>
      {() => (
        <div className="page">
          <h1>{t('settings.title')}</h1>
          <Tabs
            label={t('settings.sections')}
            items={[
              { to: '/settings/profile', label: t('settings.profile') },
              { to: '/settings/password', label: t('settings.password') },
              { to: '/settings/tokens', label: t('settings.tokens') },
              { to: '/settings/sessions', label: t('settings.sessions') },
            ]}
          />
          <Outlet />
        </div>
      )}
    </RequireSession>
  );
}

export function SettingsIndex() {
  return <Navigate to="/settings/profile" replace />;
}

function useMe(): Me {
  const { me } = useSession();
  return me!;
}

export function Profile() {
  const { t, date, bytes, number } = useI18n();
  const me = useMe();
  const { refresh } = useSession();
  useTitle(t('settings.profile'));
  const usage = useLoad((signal) => api<Usage>(`/namespaces/${seg(me.username)}/usage`, { signal }), [me.username]);
  const pulls = useLoad((signal) => api<PullLimit>('/users/me/pull-limit', { signal }), [me.username]);
  return (
    <section aria-labelledby="profile-heading">
      <h2 id="profile-heading">{t('settings.profile')}</h2>
      <dl className="facts card">
        <dt>{t('field.username')}</dt>
        <dd>{me.username}</dd>
        <dt>{t('field.email')}</dt>
        <dd>{me.email ?? t('common.none')}</dd>
        <dt>{t('profile.memberSince')}</dt>
        <dd>{date(me.created_at)}</dd>
        <dt>{t('profile.role')}</dt>
        <dd>{me.admin ? <Badge kind="admin">{t('profile.administrator')}</Badge> : t('profile.user')}</dd>
      </dl>
      <h3>{t('profile.defaultVisibility')}</h3>
      <div className="card">
        <Toggle
          label={t('profile.defaultPrivate')}
          name="default_private"
          checked={me.default_private}
          save={async (on) => {
            await api('/users/me', { method: 'PATCH', json: { default_private: on } });
            await refresh();
          }}
        />
        <p className="hint">{t('profile.defaultPrivateHint')}</p>
      </div>
      <h3>{t('usage.title')}</h3>
      <Loaded state={usage}>
        {(u) => (
          <div className="card">
            <p>{t('usage.plan', { plan: u.plan.title || u.plan.name })}</p>
            <UsageBar label={t('usage.privateRepositories')} used={u.private_repositories} limit={u.limits.private_repositories} format={number} />
            <UsageBar label={t('usage.storage')} used={u.storage_bytes} limit={u.limits.storage_bytes} format={bytes} />
            <PullsLeft state={pulls} />
            {u.read_only_repositories.length > 0 && <p className="notice notice-warning">{t('usage.readOnly', { names: u.read_only_repositories.join(', ') })}</p>}
          </div>
        )}
      </Loaded>
    </section>
  );
}

/** Pulls left in the window in force: a bar of what was pulled, and when the allowance is whole again. */
function PullsLeft({ state }: { state: LoadState<PullLimit> }) {
  const { t, number, dateTime } = useI18n();
  if (state.error) return <ErrorNotice error={state.error} />;
  const p = state.data;
  if (!p) return null;
  const hours = Math.round((p.window_seconds / 3600) * 10) / 10;
  if (p.limit === null || p.remaining === null) return <p>{t('usage.pullsUnlimited')}</p>;
  return (
    <>
      <UsageBar label={t('usage.pullsInWindow', { hours })} used={p.limit - p.remaining} limit={p.limit} format={number} />
      <p className="hint">
        {t('usage.pullsLeft', { n: p.remaining, left: number(p.remaining) })}
        {p.reset_at && ` ${t('usage.pullsReset', { when: dateTime(p.reset_at) })}`}
      </p>
    </>
  );
}

export function Password() {
  const { t } = useI18n();
  const me = useMe();
  const { refresh } = useSession();
  const navigate = useNavigate();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState(false);
  const [mismatch, setMismatch] = useState(false);
  useTitle(t('settings.password'));
  const action = useAction(async () => {
    await api('/users/me/password', { method: 'PUT', json: { current_password: current, new_password: next } });
    setCurrent('');
    setNext('');
    setRepeat('');
    setDone(true);
    // a password change ends the sessions begun before it; if this one went too, sign in again
    if ((await refresh()) === null) navigate('/signin?ended=1', { replace: true });
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setDone(false);
    setMismatch(next !== repeat);
    if (next !== repeat) return;
    void action.run();
  };
  return (
    <section aria-labelledby="password-heading">
      <h2 id="password-heading">{t('settings.password')}</h2>
      <form className="card form" onSubmit={submit}>
        {/* for password managers: which account this password belongs to */}
        <input type="text" name="username" autoComplete="username" value={me.username} readOnly hidden />
        <Field label={t('password.current')} name="current_password" type="password" value={current} onChange={setCurrent} required autoComplete="current-password" />
        <Field label={t('password.new')} name="new_password" type="password" value={next} onChange={setNext} required autoComplete="new-password" hint={t('signUp.passwordHint')} />
        <Field label={t('field.repeatPassword')} name="repeat" type="password" value={repeat} onChange={setRepeat} required autoComplete="new-password" />
        {mismatch && (
          <p className="notice notice-error" role="alert">
            {t('signUp.mismatch')}
          </p>
        )}
        <ErrorNotice error={action.error} />
        {done && (
          <p className="notice notice-success" role="status">
            {t('password.changed')}
          </p>
        )}
        <Submit busy={action.busy}>{t('password.submit')}</Submit>
      </form>
    </section>
  );
}

export function Tokens() {
  const { t } = useI18n();
  const me = useMe();
  const [params] = useSearchParams();
  useTitle(t('settings.tokens'));
  const list = useLoad((signal) => api<Paged<AccessToken>>('/users/me/tokens', { signal }), []);
  return (
    <section aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">{t('settings.tokens')}</h2>
      {params.get('welcome') && <p className="notice notice-success">{t('tokens.welcome', { name: me.username })}</p>}
      <p>{t('tokens.intro')}</p>
      <TokenForm
        loginName={me.username}
        create={(body) => api<CreatedToken>('/users/me/tokens', { method: 'POST', json: { label: body.label, scopes: body.scopes, expires_in: body.expires_in } })}
        onCreated={list.reload}
      />
      <h3>{t('tokens.yours')}</h3>
      <Loaded state={list}>
        {(page) => (
          <TokenList
            tokens={page.results}
            revoke={async (id) => {
              await api(`/users/me/tokens/${seg(id)}`, { method: 'DELETE' });
              list.reload();
            }}
          />
        )}
      </Loaded>
    </section>
  );
}

export function Sessions() {
  const { t, date, relative } = useI18n();
  const navigate = useNavigate();
  const { refresh } = useSession();
  useTitle(t('settings.sessions'));
  const list = useLoad((signal) => api<Paged<Session>>('/users/me/sessions', { signal }), []);
  const revoke = useAction(async (session: Session) => {
    await api(`/users/me/sessions/${seg(session.id)}`, { method: 'DELETE' });
    if (session.current && (await refresh().catch((e: unknown) => (e instanceof ApiError ? null : Promise.reject(e)))) === null) {
      navigate('/signin', { replace: true });
      return;
    }
    list.reload();
  });
  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">{t('settings.sessions')}</h2>
      <p>{t('sessions.intro')}</p>
      <ErrorNotice error={revoke.error} />
      <Loaded state={list}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>{t('sessions.none')}</Empty>
          ) : (
            <DataTable caption={t('settings.sessions')} columns={[t('sessions.kind'), t('sessions.client'), t('common.created'), t('tokens.lastUsed')]} actions>
              {page.results.map((s) => (
                <tr key={s.id}>
                  <td>
                    {s.kind === 'browser' ? t('sessions.browser') : t('sessions.docker')} {s.current && <Badge kind="current">{t('sessions.current')}</Badge>}
                  </td>
                  <td className="ellipsis">{s.user_agent ?? s.client_id ?? t('common.unknown')}</td>
                  <td>{date(s.created_at)}</td>
                  <td>{s.last_used_at ? relative(s.last_used_at) : t('tokens.neverUsed')}</td>
                  <td>
                    <ConfirmButton label={s.current ? t('sessions.signOutHere') : t('sessions.revoke')} confirmLabel={t('sessions.confirmRevoke')} busy={revoke.busy} onConfirm={() => void revoke.run(s)} />
                  </td>
                </tr>
              ))}
            </DataTable>
          )
        }
      </Loaded>
    </section>
  );
}
