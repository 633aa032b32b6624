// Teams, their members and their repository permissions.
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../../api/browser';
import { ApiError, seg } from '../../api/client';
import type { Paged, Team } from '../../api/types';
import { ConfirmButton, DataTable, Empty, ErrorNotice, Field, Loaded, Select, Submit, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import NotFound from '../not-found';
import { useOrg } from './context';

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
            <DataTable caption={t('teams.permissions')} columns={[t('teams.repository'), t('teams.permission')]} actions>
              {(team.permissions ?? []).map((p) => (
                <tr key={p.repository}>
                  <td>{p.repository === '*' ? t('teams.allRepositories') : p.repository}</td>
                  <td>{t(`permission.${p.permission}`)}</td>
                  <td>
                    <ConfirmButton label={t('teams.revoke')} confirmLabel={t('teams.confirmRevoke')} busy={revoke.busy} onConfirm={() => void revoke.run(p.repository)} />
                  </td>
                </tr>
              ))}
            </DataTable>
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
