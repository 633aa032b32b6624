// Administration: users, plans, the official namespace, verified publishers, settings.
import { useState, type FormEvent } from 'react';
import { Link, Outlet, useSearchParams } from 'react-router';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import { useSession } from '../../api/session';
import type { AdminUser, HubSettings, Organization, Paged, Plan, PullLimits } from '../../api/types';
import { RequireSession } from '../../components/require-session';
import { Badge, Checkbox, ConfirmButton, Empty, ErrorNotice, Field, Loaded, Select, Submit, Tabs, Toggle, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';

export function AdminLayout() {
  const { t } = useI18n();
  return (
    <RequireSession admin>
      {() => (
        <div className="page">
          <h1>{t('admin.title')}</h1>
          <Tabs
            label={t('admin.sections')}
            items={[
              { to: '/admin', label: t('admin.users') },
              { to: '/admin/plans', label: t('admin.plans') },
              { to: '/admin/library', label: t('admin.library') },
              { to: '/admin/publishers', label: t('admin.publishers') },
              { to: '/admin/settings', label: t('admin.settings') },
            ]}
          />
          <Outlet />
        </div>
      )}
    </RequireSession>
  );
}

const PAGE_SIZE = 25;

export function AdminUsers() {
  const { t, date } = useI18n();
  const { me } = useSession();
  useTitle(t('admin.users'));
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get('page')) || 1);
  const q = params.get('q') ?? '';
  const [query, setQuery] = useState(q);
  const list = useLoad(
    (signal) => api<Paged<AdminUser>>(`/users?page=${page}&page_size=${PAGE_SIZE}${q ? `&q=${encodeURIComponent(q)}` : ''}`, { signal }),
    [page, q],
  );
  const remove = useAction(async (user: string) => {
    await api(`/users/${seg(user)}`, { method: 'DELETE' });
    list.reload();
  });
  const [resetting, setResetting] = useState<string>();
  const [newPassword, setNewPassword] = useState('');
  const [resetDone, setResetDone] = useState<string>();
  const reset = useAction(async () => {
    await api(`/users/${seg(resetting!)}/password`, { method: 'PUT', json: { new_password: newPassword } });
    setResetDone(resetting);
    setResetting(undefined);
    setNewPassword('');
  });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState('');
  const [makeAdmin, setMakeAdmin] = useState(false);
  const create = useAction(async () => {
    const name = username.trim();
    await api('/users', { method: 'POST', json: { username: name, password, ...(email.trim() ? { email: email.trim() } : {}) } });
    if (makeAdmin) await api(`/users/${seg(name)}`, { method: 'PATCH', json: { admin: true } });
    setUsername('');
    setPassword('');
    setEmail('');
    setMakeAdmin(false);
    list.reload();
  });
  const search = (event: FormEvent) => {
    event.preventDefault();
    setParams(query.trim() ? { q: query.trim() } : {});
  };
  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">{t('admin.users')}</h2>
      <form role="search" className="inline-form" onSubmit={search}>
        <Field label={t('admin.findUser')} name="q" type="search" value={query} onChange={setQuery} />
        <button type="submit" className="button">
          {t('admin.find')}
        </button>
      </form>
      <ErrorNotice error={remove.error} />
      {resetDone && (
        <p className="notice notice-success" role="status">
          {t('admin.passwordReset', { name: resetDone })}
        </p>
      )}
      <Loaded state={list}>
        {(users) =>
          users.results.length === 0 ? (
            <Empty>{t('admin.noUsers')}</Empty>
          ) : (
            <>
              <div className="table-wrap">
                <table>
                  <caption className="visually-hidden">{t('admin.users')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('field.username')}</th>
                      <th scope="col">{t('admin.plan')}</th>
                      <th scope="col">{t('common.created')}</th>
                      <th scope="col">{t('admin.isAdmin')}</th>
                      <th scope="col">
                        <span className="visually-hidden">{t('common.actions')}</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {users.results.map((u) => (
                      <tr key={u.username}>
                        <td>
                          {u.username} {u.admin && <Badge kind="admin">{t('profile.administrator')}</Badge>}
                        </td>
                        <td>{u.plan ?? '—'}</td>
                        <td>{date(u.created_at)}</td>
                        <td>
                          <Toggle
                            label={t('admin.adminOf', { name: u.username })}
                            checked={u.admin}
                            save={async (admin) => {
                              await api(`/users/${seg(u.username)}`, { method: 'PATCH', json: { admin } });
                              list.reload();
                            }}
                          />
                        </td>
                        <td className="actions">
                          <button type="button" className="button" onClick={() => setResetting(u.username)}>
                            {t('admin.resetPassword')}
                          </button>
                          {u.username !== me?.username && (
                            <ConfirmButton label={t('admin.deleteUser')} confirmLabel={t('admin.confirmDeleteUser', { name: u.username })} busy={remove.busy} onConfirm={() => void remove.run(u.username)} />
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <nav className="pager" aria-label={t('common.pages')}>
                {users.previous ? (
                  <Link to={`?page=${page - 1}${q ? `&q=${encodeURIComponent(q)}` : ''}`}>{t('common.previous')}</Link>
                ) : (
                  <span />
                )}
                <span>{t('common.pageOf', { page, pages: Math.max(1, Math.ceil(users.count / PAGE_SIZE)) })}</span>
                {users.next ? <Link to={`?page=${page + 1}${q ? `&q=${encodeURIComponent(q)}` : ''}`}>{t('common.next')}</Link> : <span />}
              </nav>
            </>
          )
        }
      </Loaded>
      {resetting && (
        <form
          className="card form"
          onSubmit={(e) => {
            e.preventDefault();
            void reset.run();
          }}
          aria-labelledby="reset-heading"
        >
          <h3 id="reset-heading">{t('admin.resetPasswordOf', { name: resetting })}</h3>
          <p className="hint">{t('admin.resetHint')}</p>
          <Field label={t('password.new')} name="new_password" type="password" value={newPassword} onChange={setNewPassword} required autoComplete="new-password" />
          <ErrorNotice error={reset.error} />
          <Submit busy={reset.busy}>{t('admin.resetSubmit')}</Submit>{' '}
          <button type="button" className="button" onClick={() => setResetting(undefined)}>
            {t('common.cancel')}
          </button>
        </form>
      )}
      <form
        className="card form"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
        aria-labelledby="user-new"
      >
        <h3 id="user-new">{t('admin.createUser')}</h3>
        <Field label={t('field.username')} name="username" value={username} onChange={setUsername} required />
        <Field label={t('field.emailOptional')} name="email" type="email" value={email} onChange={setEmail} />
        <Field label={t('field.password')} name="password" type="password" value={password} onChange={setPassword} required autoComplete="new-password" />
        <Checkbox label={t('admin.makeAdmin')} checked={makeAdmin} onChange={setMakeAdmin} />
        <ErrorNotice error={create.error} />
        <Submit busy={create.busy}>{t('admin.createUserSubmit')}</Submit>
      </form>
    </section>
  );
}

function limitText(value: number | null, format: (n: number) => string, unlimited: string): string {
  return value === null ? unlimited : format(value);
}

export function AdminPlans() {
  const { t, number, bytes } = useI18n();
  useTitle(t('admin.plans'));
  const list = useLoad((signal) => api<Paged<Plan>>('/plans', { signal }), []);
  const [namespace, setNamespace] = useState('');
  const [plan, setPlan] = useState('');
  const [granted, setGranted] = useState<string>();
  const grant = useAction(async () => {
    await api(`/namespaces/${seg(namespace.trim())}/plan`, { method: 'PUT', json: { plan } });
    setGranted(t('admin.granted', { plan, name: namespace.trim() }));
    setNamespace('');
  });
  const [editing, setEditing] = useState<Plan>();
  const save = useAction(async (changed: Plan) => {
    await api(`/plans/${seg(changed.name)}`, {
      method: 'PUT',
      json: {
        title: changed.title,
        price_label: changed.price_label,
        private_repositories: changed.private_repositories,
        storage_bytes: changed.storage_bytes,
        pulls_per_window: changed.pulls_per_window,
        seats: changed.seats,
      },
    });
    setEditing(undefined);
    list.reload();
  });
  const unlimited = t('common.unlimited');
  return (
    <section aria-labelledby="plans-heading">
      <h2 id="plans-heading">{t('admin.plans')}</h2>
      <p className="hint">{t('admin.plansIntro')}</p>
      <Loaded state={list}>
        {(plans) => (
          <>
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">{t('admin.plans')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('admin.plan')}</th>
                    <th scope="col">{t('admin.price')}</th>
                    <th scope="col">{t('usage.privateRepositories')}</th>
                    <th scope="col">{t('usage.storage')}</th>
                    <th scope="col">{t('admin.pullsPerWindow')}</th>
                    <th scope="col">{t('admin.seats')}</th>
                    <th scope="col">
                      <span className="visually-hidden">{t('common.actions')}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {plans.results.map((p) => (
                    <tr key={p.name}>
                      <td>
                        {p.title} <code>{p.name}</code>
                      </td>
                      <td>{p.price_label}</td>
                      <td>{limitText(p.private_repositories, number, unlimited)}</td>
                      <td>{limitText(p.storage_bytes, bytes, unlimited)}</td>
                      <td>
                        {p.pulls_per_window === null ? unlimited : t('admin.pullsWindow', { pulls: number(p.pulls_per_window), hours: Math.round(p.pull_window_seconds / 3600) })}
                      </td>
                      <td>{limitText(p.seats, number, unlimited)}</td>
                      <td>
                        <button type="button" className="button" onClick={() => setEditing(p)}>
                          {t('admin.editPlan', { plan: p.name })}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {editing && <PlanEditor plan={editing} busy={save.busy} error={save.error} onSave={(p) => void save.run(p)} onCancel={() => setEditing(undefined)} />}
            <form
              className="card form"
              onSubmit={(e) => {
                e.preventDefault();
                setGranted(undefined);
                void grant.run();
              }}
              aria-labelledby="grant-plan"
            >
              <h3 id="grant-plan">{t('admin.grantPlan')}</h3>
              <Field label={t('admin.namespace')} name="namespace" value={namespace} onChange={setNamespace} required />
              <Select label={t('admin.plan')} name="plan" value={plan || plans.results[0]?.name || ''} options={plans.results.map((p) => ({ value: p.name, label: p.title || p.name }))} onChange={setPlan} />
              <ErrorNotice error={grant.error} />
              {granted && (
                <p className="notice notice-success" role="status">
                  {granted}
                </p>
              )}
              <Submit busy={grant.busy}>{t('admin.grantSubmit')}</Submit>
            </form>
          </>
        )}
      </Loaded>
    </section>
  );
}

function PlanEditor({ plan, busy, error, onSave, onCancel }: { plan: Plan; busy: boolean; error: unknown; onSave(plan: Plan): void; onCancel(): void }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState(() => ({
    title: plan.title,
    price_label: plan.price_label,
    private_repositories: plan.private_repositories === null ? '' : String(plan.private_repositories),
    storage_bytes: plan.storage_bytes === null ? '' : String(plan.storage_bytes),
    pulls_per_window: plan.pulls_per_window === null ? '' : String(plan.pulls_per_window),
    seats: plan.seats === null ? '' : String(plan.seats),
  }));
  const limit = (value: string) => (value.trim() === '' ? null : Number(value));
  const set = (key: keyof typeof draft) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));
  return (
    <form
      className="card form"
      onSubmit={(e) => {
        e.preventDefault();
        onSave({
          ...plan,
          title: draft.title,
          price_label: draft.price_label,
          private_repositories: limit(draft.private_repositories),
          storage_bytes: limit(draft.storage_bytes),
          pulls_per_window: limit(draft.pulls_per_window),
          seats: limit(draft.seats),
        });
      }}
      aria-labelledby="plan-edit"
    >
      <h3 id="plan-edit">{t('admin.editPlan', { plan: plan.name })}</h3>
      <p className="hint">{t('admin.emptyUnlimited')}</p>
      <Field label={t('admin.planTitle')} name="title" value={draft.title} onChange={set('title')} required />
      <Field label={t('admin.price')} name="price_label" value={draft.price_label} onChange={set('price_label')} />
      <Field label={t('usage.privateRepositories')} name="private_repositories" type="number" value={draft.private_repositories} onChange={set('private_repositories')} />
      <Field label={t('admin.storageBytes')} name="storage_bytes" type="number" value={draft.storage_bytes} onChange={set('storage_bytes')} />
      <Field label={t('admin.pullsPerWindow')} name="pulls_per_window" type="number" value={draft.pulls_per_window} onChange={set('pulls_per_window')} />
      <Field label={t('admin.seats')} name="seats" type="number" value={draft.seats} onChange={set('seats')} />
      <ErrorNotice error={error} />
      <Submit busy={busy}>{t('common.save')}</Submit>{' '}
      <button type="button" className="button" onClick={onCancel}>
        {t('common.cancel')}
      </button>
    </form>
  );
}

export function AdminLibrary() {
  const { t } = useI18n();
  useTitle(t('admin.library'));
  const host = window.location.host;
  return (
    <section aria-labelledby="library-heading">
      <h2 id="library-heading">{t('admin.library')}</h2>
      <p>{t('admin.libraryIntro', { host })}</p>
      <p>
        <Link to="/orgs/library" className="button primary">
          {t('admin.manageLibrary')}
        </Link>
      </p>
    </section>
  );
}

export function AdminPublishers() {
  const { t } = useI18n();
  useTitle(t('admin.publishers'));
  const [name, setName] = useState('');
  const [found, setFound] = useState<Organization>();
  const look = useAction(async () => {
    setFound(await api<Organization>(`/orgs/${seg(name.trim())}`));
  });
  return (
    <section aria-labelledby="publishers-heading">
      <h2 id="publishers-heading">{t('admin.publishers')}</h2>
      <p>{t('admin.publishersIntro')}</p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void look.run();
        }}
      >
        <Field label={t('orgs.name')} name="org" value={name} onChange={setName} required />
        <Submit busy={look.busy}>{t('admin.find')}</Submit>
      </form>
      <ErrorNotice error={look.error} />
      {found && (
        <div className="card">
          <p>
            <strong>{found.name}</strong> {found.verified_publisher && <Badge kind="verified">{t('badge.verified')}</Badge>}
          </p>
          <Toggle
            label={t('admin.verifiedOf', { name: found.name })}
            checked={found.verified_publisher}
            save={async (verified) => setFound(await api<Organization>(`/orgs/${seg(found.name)}/verified`, { method: 'PUT', json: { verified } }))}
          />
        </div>
      )}
    </section>
  );
}

export function AdminSettings() {
  const { t } = useI18n();
  useTitle(t('admin.settings'));
  const settings = useLoad((signal) => api<HubSettings>('/settings', { signal }), []);
  const limits = useLoad((signal) => api<PullLimits>('/settings/pull-limits', { signal }), []);
  const change = async (body: Partial<HubSettings>) => {
    await api('/settings', { method: 'PUT', json: body });
    settings.reload();
  };
  return (
    <section aria-labelledby="settings-heading">
      <h2 id="settings-heading">{t('admin.settings')}</h2>
      <Loaded state={settings}>
        {(s) => (
          <div className="card">
            <Toggle label={t('admin.signupOpen')} checked={s.signup_open} save={(on) => change({ signup_open: on })} />
            <Toggle label={t('admin.pullRequiresLogin')} checked={s.pull_requires_login} save={(on) => change({ pull_requires_login: on })} />
          </div>
        )}
      </Loaded>
      <h3>{t('admin.pullLimits')}</h3>
      <Loaded state={limits}>{(l) => <PullLimitsForm limits={l} onSaved={limits.reload} />}</Loaded>
    </section>
  );
}

function PullLimitsForm({ limits, onSaved }: { limits: PullLimits; onSaved(): void }) {
  const { t } = useI18n();
  const [limit, setLimit] = useState(limits.anonymous_limit === null ? '' : String(limits.anonymous_limit));
  const [hours, setHours] = useState(String(limits.anonymous_window_seconds / 3600));
  const [exempt, setExempt] = useState(limits.exempt.join('\n'));
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    await api('/settings/pull-limits', {
      method: 'PUT',
      json: {
        anonymous_limit: limit.trim() === '' ? null : Number(limit),
        anonymous_window_seconds: Math.round(Number(hours) * 3600),
        exempt: exempt.split(/[\s,]+/).filter(Boolean),
      },
    });
    setSaved(true);
    onSaved();
  });
  return (
    <form
      className="card form"
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        void save.run();
      }}
    >
      <Field label={t('admin.anonymousLimit')} name="anonymous_limit" type="number" value={limit} onChange={setLimit} hint={t('admin.emptyUnlimited')} />
      <Field label={t('admin.windowHours')} name="window" type="number" value={hours} onChange={setHours} required />
      <div className="field">
        <label htmlFor="exempt">{t('admin.exempt')}</label>
        <textarea id="exempt" name="exempt" rows={4} value={exempt} onChange={(e) => setExempt(e.target.value)} aria-describedby="exempt-hint" />
        <small id="exempt-hint" className="hint">
          {t('admin.exemptHint')}
        </small>
      </div>
      <ErrorNotice error={save.error} />
      {saved && (
        <p className="notice notice-success" role="status">
          {t('common.saved')}
        </p>
      )}
      <Submit busy={save.busy}>{t('common.save')}</Submit>
    </form>
  );
}
