// Organisations: the caller's list, then one organisation's members, teams, tokens and settings.
import { useState, type FormEvent } from 'react';
import { Link, Outlet, useNavigate, useOutletContext, useParams } from 'react-router';
import { api } from '../../api/browser';
import { ApiError, seg } from '../../api/client';
import type { AccessToken, CreatedToken, Member, Organization, Paged, Team, Usage } from '../../api/types';
import { RequireSession } from '../../components/require-session';
import { TokenForm, TokenList } from '../../components/tokens';
import { Badge, ConfirmButton, Empty, ErrorNotice, Field, Loaded, Select, Submit, Tabs, Toggle, UsageBar, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import NotFound from '../not-found';

export function OrgList() {
  const { t } = useI18n();
  useTitle(t('orgs.title'));
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const list = useLoad((signal) => api<Paged<Organization>>('/orgs', { signal }), []);
  const create = useAction(async () => {
    const org = await api<Organization>('/orgs', { method: 'POST', json: { name: name.trim() } });
    navigate(`/orgs/${seg(org.name)}`);
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <RequireSession>
      {() => (
        <div className="page">
          <h1>{t('orgs.title')}</h1>
          <Loaded state={list}>
            {(page) =>
              page.results.length === 0 ? (
                <Empty>{t('orgs.none')}</Empty>
              ) : (
                <ul className="cards">
                  {page.results.map((org) => (
                    <li key={org.name} className="card">
                      <Link to={`/orgs/${seg(org.name)}`} className="card-title">
                        {org.name}
                      </Link>{' '}
                      <OrgBadges org={org} />
                      <p className="hint">{org.role === 'owner' ? t('orgs.owner') : t('orgs.member')}</p>
                    </li>
                  ))}
                </ul>
              )
            }
          </Loaded>
          <form className="card form" onSubmit={submit} aria-labelledby="org-new">
            <h2 id="org-new">{t('orgs.create')}</h2>
            <Field label={t('orgs.name')} name="name" value={name} onChange={setName} required hint={t('orgs.nameHint')} maxLength={64} />
            <ErrorNotice error={create.error} />
            <Submit busy={create.busy}>{t('orgs.createSubmit')}</Submit>
          </form>
        </div>
      )}
    </RequireSession>
  );
}

function OrgBadges({ org }: { org: Organization }) {
  const { t } = useI18n();
  return (
    <>
      {org.official && <Badge kind="official">{t('badge.official')}</Badge>}
      {org.verified_publisher && <Badge kind="verified">{t('badge.verified')}</Badge>}
    </>
  );
}

interface OrgContext {
  org: Organization;
  /** the caller owns it (or administers Pier) */
  manager: boolean;
  reload(): void;
}

const useOrg = () => useOutletContext<OrgContext>();

export function OrgLayout() {
  const { t, date } = useI18n();
  const { org: name = '' } = useParams();
  const state = useLoad((signal) => api<Organization>(`/orgs/${seg(name)}`, { signal }), [name]);
  useTitle(name);
  return (
    <RequireSession>
      {(me) =>
        state.error instanceof ApiError && state.error.status === 404 ? (
          <NotFound />
        ) : (
          <div className="page">
            <Loaded state={state}>
              {(org) => {
                const manager = org.role === 'owner' || me.admin;
                const base = `/orgs/${seg(org.name)}`;
                return (
                  <>
                    <h1>
                      {org.name} <OrgBadges org={org} />
                    </h1>
                    <p className="hint">{t('orgs.since', { date: date(org.created_at) })}</p>
                    <Tabs
                      label={t('orgs.sections')}
                      items={[
                        { to: base, label: t('orgs.members') },
                        { to: `${base}/teams`, label: t('orgs.teams'), end: false },
                        ...(manager ? [{ to: `${base}/tokens`, label: t('orgs.tokens') }, { to: `${base}/settings`, label: t('orgs.settings') }] : []),
                      ]}
                    />
                    <Outlet context={{ org, manager, reload: state.reload } satisfies OrgContext} />
                  </>
                );
              }}
            </Loaded>
          </div>
        )
      }
    </RequireSession>
  );
}

export function OrgMembers() {
  const { t, date } = useI18n();
  const { org, manager } = useOrg();
  useTitle(`${org.name}: ${t('orgs.members')}`);
  const list = useLoad((signal) => api<Paged<Member>>(`/orgs/${seg(org.name)}/members`, { signal }), [org.name]);
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<'member' | 'owner'>('member');
  const add = useAction(async () => {
    await api(`/orgs/${seg(org.name)}/members`, { method: 'POST', json: { username: username.trim(), role } });
    setUsername('');
    list.reload();
  });
  const change = useAction(async (member: string, next: 'member' | 'owner') => {
    await api(`/orgs/${seg(org.name)}/members/${seg(member)}`, { method: 'PATCH', json: { role: next } });
    list.reload();
  });
  const remove = useAction(async (member: string) => {
    await api(`/orgs/${seg(org.name)}/members/${seg(member)}`, { method: 'DELETE' });
    list.reload();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void add.run();
  };
  const roleOptions = [
    { value: 'member' as const, label: t('orgs.member') },
    { value: 'owner' as const, label: t('orgs.owner') },
  ];
  return (
    <section aria-labelledby="members-heading">
      <h2 id="members-heading">{t('orgs.members')}</h2>
      <ErrorNotice error={change.error ?? remove.error} />
      <Loaded state={list}>
        {(page) => (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">{t('orgs.members')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('field.username')}</th>
                  <th scope="col">{t('orgs.role')}</th>
                  <th scope="col">{t('orgs.memberSince')}</th>
                  {manager && (
                    <th scope="col">
                      <span className="visually-hidden">{t('common.actions')}</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {page.results.map((m) => (
                  <tr key={m.username}>
                    <td>{m.username}</td>
                    <td>
                      {manager ? (
                        <Select label={t('orgs.roleOf', { name: m.username })} value={m.role} options={roleOptions} onChange={(next) => void change.run(m.username, next)} />
                      ) : m.role === 'owner' ? (
                        t('orgs.owner')
                      ) : (
                        t('orgs.member')
                      )}
                    </td>
                    <td>{date(m.since)}</td>
                    {manager && (
                      <td>
                        <ConfirmButton label={t('orgs.remove')} confirmLabel={t('orgs.confirmRemove', { name: m.username })} busy={remove.busy} onConfirm={() => void remove.run(m.username)} />
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      {manager && (
        <form className="card form" onSubmit={submit} aria-labelledby="member-add">
          <h3 id="member-add">{t('orgs.addMember')}</h3>
          <Field label={t('field.username')} name="username" value={username} onChange={setUsername} required />
          <Select<'member' | 'owner'> label={t('orgs.role')} name="role" value={role} options={roleOptions} onChange={setRole} />
          <ErrorNotice error={add.error} />
          <Submit busy={add.busy}>{t('orgs.add')}</Submit>
        </form>
      )}
    </section>
  );
}

export function OrgTeams() {
  const { t } = useI18n();
  const { org, manager } = useOrg();
  useTitle(`${org.name}: ${t('orgs.teams')}`);
  const list = useLoad((signal) => api<Paged<Team>>(`/orgs/${seg(org.name)}/teams`, { signal }), [org.name]);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const create = useAction(async () => {
    await api(`/orgs/${seg(org.name)}/teams`, { method: 'POST', json: { name: name.trim(), description: description.trim() } });
    setName('');
    setDescription('');
    list.reload();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <section aria-labelledby="teams-heading">
      <h2 id="teams-heading">{t('orgs.teams')}</h2>
      <Loaded state={list}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>{t('teams.none')}</Empty>
          ) : (
            <ul className="cards">
              {page.results.map((team) => (
                <li key={team.name} className="card">
                  {manager ? (
                    <Link to={`/orgs/${seg(org.name)}/teams/${seg(team.name)}`} className="card-title">
                      {team.name}
                    </Link>
                  ) : (
                    <span className="card-title">{team.name}</span>
                  )}
                  {team.description && <p>{team.description}</p>}
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      {manager && (
        <form className="card form" onSubmit={submit} aria-labelledby="team-new">
          <h3 id="team-new">{t('teams.create')}</h3>
          <Field label={t('teams.name')} name="name" value={name} onChange={setName} required />
          <Field label={t('teams.description')} name="description" value={description} onChange={setDescription} />
          <ErrorNotice error={create.error} />
          <Submit busy={create.busy}>{t('teams.createSubmit')}</Submit>
        </form>
      )}
    </section>
  );
}

type Permission = 'read' | 'write' | 'admin';

export function OrgTeam() {
  const { t } = useI18n();
  const { org, manager } = useOrg();
  const { team: teamName = '' } = useParams();
  useTitle(`${org.name}/${teamName}`);
  const base = `/orgs/${seg(org.name)}/teams/${seg(teamName)}`;
  const state = useLoad((signal) => api<Team>(base, { signal }), [base]);
  const [member, setMember] = useState('');
  const [repository, setRepository] = useState('');
  const [permission, setPermission] = useState<Permission>('read');
  const addMember = useAction(async () => {
    await api(`${base}/members`, { method: 'POST', json: { username: member.trim() } });
    setMember('');
    state.reload();
  });
  const removeMember = useAction(async (name: string) => {
    await api(`${base}/members/${seg(name)}`, { method: 'DELETE' });
    state.reload();
  });
  const grant = useAction(async () => {
    await api(`${base}/permissions/${seg(repository.trim())}`, { method: 'PUT', json: { permission } });
    setRepository('');
    state.reload();
  });
  const revoke = useAction(async (repo: string) => {
    await api(`${base}/permissions/${seg(repo)}`, { method: 'DELETE' });
    state.reload();
  });
  const navigate = useNavigate();
  const remove = useAction(async () => {
    await api(base, { method: 'DELETE' });
    navigate(`/orgs/${seg(org.name)}/teams`);
  });
  if (!manager || (state.error instanceof ApiError && state.error.status === 404)) return <NotFound />;
  const permissionOptions = (['read', 'write', 'admin'] as const).map((p) => ({ value: p, label: t(`permission.${p}`) }));
  return (
    <Loaded state={state}>
      {(team) => (
        <section aria-labelledby="team-heading">
          <h2 id="team-heading">{t('teams.team', { name: team.name })}</h2>
          {team.description && <p>{team.description}</p>}
          <h3>{t('orgs.members')}</h3>
          <ErrorNotice error={removeMember.error} />
          {(team.members ?? []).length === 0 ? (
            <Empty>{t('teams.noMembers')}</Empty>
          ) : (
            <ul className="plain-list">
              {(team.members ?? []).map((name) => (
                <li key={name}>
                  {name} <ConfirmButton label={t('orgs.remove')} confirmLabel={t('orgs.confirmRemove', { name })} busy={removeMember.busy} onConfirm={() => void removeMember.run(name)} />
                </li>
              ))}
            </ul>
          )}
          <form
            className="card form inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void addMember.run();
            }}
          >
            <Field label={t('teams.addMember')} name="username" value={member} onChange={setMember} required hint={t('teams.addMemberHint')} />
            <ErrorNotice error={addMember.error} />
            <Submit busy={addMember.busy}>{t('orgs.add')}</Submit>
          </form>
          <h3>{t('teams.permissions')}</h3>
          <ErrorNotice error={revoke.error} />
          {(team.permissions ?? []).length === 0 ? (
            <Empty>{t('teams.noPermissions')}</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">{t('teams.permissions')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('teams.repository')}</th>
                    <th scope="col">{t('teams.permission')}</th>
                    <th scope="col">
                      <span className="visually-hidden">{t('common.actions')}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {(team.permissions ?? []).map((p) => (
                    <tr key={p.repository}>
                      <td>{p.repository === '*' ? t('teams.allRepositories') : p.repository}</td>
                      <td>{t(`permission.${p.permission}`)}</td>
                      <td>
                        <ConfirmButton label={t('teams.revoke')} confirmLabel={t('teams.confirmRevoke')} busy={revoke.busy} onConfirm={() => void revoke.run(p.repository)} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <form
            className="card form"
            onSubmit={(e) => {
              e.preventDefault();
              void grant.run();
            }}
            aria-labelledby="grant-heading"
          >
            <h4 id="grant-heading">{t('teams.grant')}</h4>
            <Field label={t('teams.repository')} name="repository" value={repository} onChange={setRepository} required hint={t('teams.repositoryHint', { org: org.name })} />
            <Select<Permission> label={t('teams.permission')} name="permission" value={permission} options={permissionOptions} onChange={setPermission} />
            <ErrorNotice error={grant.error} />
            <Submit busy={grant.busy}>{t('teams.grantSubmit')}</Submit>
          </form>
          <h3>{t('teams.delete')}</h3>
          <ErrorNotice error={remove.error} />
          <ConfirmButton label={t('teams.delete')} confirmLabel={t('teams.confirmDelete', { name: team.name })} busy={remove.busy} onConfirm={() => void remove.run()} />
        </section>
      )}
    </Loaded>
  );
}

export function OrgTokens() {
  const { t } = useI18n();
  const { org, manager } = useOrg();
  useTitle(`${org.name}: ${t('orgs.tokens')}`);
  const base = `/orgs/${seg(org.name)}/tokens`;
  const list = useLoad((signal) => (manager ? api<Paged<AccessToken>>(base, { signal }) : Promise.resolve({ count: 0, results: [] })), [base, manager]);
  if (!manager) return <NotFound />;
  return (
    <section aria-labelledby="org-tokens-heading">
      <h2 id="org-tokens-heading">{t('orgs.tokens')}</h2>
      <p>{t('orgs.tokensIntro', { org: org.name })}</p>
      <TokenForm loginName={org.name} withRepositories create={(body) => api<CreatedToken>(base, { method: 'POST', json: body })} onCreated={list.reload} />
      <h3>{t('orgs.tokensList')}</h3>
      <Loaded state={list}>
        {(page) => (
          <TokenList
            tokens={page.results.map((token) => ({ ...token, repositories: token.repositories ?? null }))}
            revoke={async (id) => {
              await api(`${base}/${seg(id)}`, { method: 'DELETE' });
              list.reload();
            }}
          />
        )}
      </Loaded>
    </section>
  );
}

export function OrgSettings() {
  const { t, number, bytes } = useI18n();
  const { org, manager, reload } = useOrg();
  const navigate = useNavigate();
  useTitle(`${org.name}: ${t('orgs.settings')}`);
  const usage = useLoad((signal) => (manager ? api<Usage>(`/namespaces/${seg(org.name)}/usage`, { signal }) : Promise.reject(new Error('not a manager'))), [org.name, manager]);
  const [confirm, setConfirm] = useState('');
  const [password, setPassword] = useState('');
  const remove = useAction(async () => {
    await api(`/orgs/${seg(org.name)}`, { method: 'DELETE', json: { confirm, password } });
    navigate('/orgs', { replace: true });
  });
  if (!manager) return <NotFound />;
  return (
    <section aria-labelledby="org-settings-heading">
      <h2 id="org-settings-heading">{t('orgs.settings')}</h2>
      <h3>{t('profile.defaultVisibility')}</h3>
      <div className="card">
        <Toggle
          label={t('profile.defaultPrivate')}
          name="default_private"
          checked={org.default_private}
          save={async (on) => {
            await api(`/orgs/${seg(org.name)}`, { method: 'PATCH', json: { default_private: on } });
            reload();
          }}
        />
      </div>
      <h3>{t('usage.title')}</h3>
      <Loaded state={usage}>
        {(u) => (
          <div className="card">
            <p>{t('usage.plan', { plan: u.plan.title || u.plan.name })}</p>
            <UsageBar label={t('usage.privateRepositories')} used={u.private_repositories} limit={u.limits.private_repositories} format={number} />
            <UsageBar label={t('usage.storage')} used={u.storage_bytes} limit={u.limits.storage_bytes} format={bytes} />
          </div>
        )}
      </Loaded>
      <h3>{t('orgs.delete')}</h3>
      <form
        className="card form danger-zone"
        onSubmit={(e) => {
          e.preventDefault();
          void remove.run();
        }}
      >
        <p>{t('orgs.deleteWarning', { org: org.name })}</p>
        <Field label={t('orgs.deleteConfirm', { org: org.name })} name="confirm" value={confirm} onChange={setConfirm} required autoComplete="off" />
        <Field label={t('field.password')} name="password" type="password" value={password} onChange={setPassword} required autoComplete="current-password" />
        <ErrorNotice error={remove.error} />
        <button type="submit" className="button danger" disabled={remove.busy || confirm !== org.name}>
          {t('orgs.deleteSubmit')}
        </button>
      </form>
    </section>
  );
}
