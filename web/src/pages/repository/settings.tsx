// A repository's settings: descriptions and README (with a preview), visibility, teams, its lifecycle
// (immutable tags, retention), deletion with a typed confirmation.
import { lazy, Suspense, useId, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../../api/browser';
import { ApiError, seg } from '../../api/client';
import { useSession } from '../../api/session';
import type { Category, Paged, Repository, Team, TeamPermission } from '../../api/types';
import { DataTable, Empty, ErrorNotice, Field, Loaded, Loading, Select, Submit, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import { Lifecycle } from './lifecycle';
import { displayName, repositoryApi } from './paths';

const Readme = lazy(() => import('../../markdown/readme'));

export default function RepositorySettings({ repository: r, reload }: { repository: Repository; reload(): void }) {
  const { t } = useI18n();
  const { me } = useSession();
  useTitle(`${displayName(r.namespace, r.name)}: ${t('repo.settings')}`);
  return (
    <section aria-labelledby="repo-settings-heading" className="repo-settings">
      <h2 id="repo-settings-heading">{t('repo.settings')}</h2>
      <Descriptions repository={r} reload={reload} />
      <Categories repository={r} reload={reload} />
      <Visibility repository={r} reload={reload} />
      {r.namespace !== me?.username ? <TeamPermissions repository={r} /> : <PersonalTeammates />}
      <Lifecycle repository={r} reload={reload} />
      <DeleteRepository repository={r} />
    </section>
  );
}

function Descriptions({ repository: r, reload }: { repository: Repository; reload(): void }) {
  const { t } = useI18n();
  const readmeId = useId();
  // the README of the repository itself; one that comes from the image's label is not edited here
  const [description, setDescription] = useState(r.description);
  const [readme, setReadme] = useState(r.readme_source === 'full_description' ? r.full_description : '');
  const [mode, setMode] = useState<'write' | 'preview'>('write');
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    await api(repositoryApi(r.namespace, r.name), { method: 'PATCH', json: { description, full_description: readme } });
    setSaved(true);
    reload();
  });
  return (
    <form
      className="card form"
      aria-labelledby="repo-descriptions"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h3 id="repo-descriptions">{t('settingsRepo.descriptions')}</h3>
      <Field label={t('settingsRepo.description')} name="description" value={description} onChange={setDescription} maxLength={100} hint={t('settingsRepo.descriptionHint')} />
      <div className="field">
        <div className="editor-head">
          <label htmlFor={readmeId}>{t('settingsRepo.readme')}</label>
          <div className="segmented" role="group" aria-label={t('settingsRepo.readmeMode')}>
            <button type="button" className="button" aria-pressed={mode === 'write'} onClick={() => setMode('write')}>
              {t('settingsRepo.write')}
            </button>
            <button type="button" className="button" aria-pressed={mode === 'preview'} onClick={() => setMode('preview')}>
              {t('settingsRepo.preview')}
            </button>
          </div>
        </div>
        {mode === 'write' ? (
          <textarea id={readmeId} name="full_description" rows={14} className="mono" value={readme} onChange={(e) => setReadme(e.target.value)} aria-describedby={`${readmeId}-hint`} />
        ) : (
          <div className="card preview" id={readmeId} tabIndex={0} aria-label={t('settingsRepo.preview')}>
            {readme.trim() ? (
              <Suspense fallback={<Loading />}>
                <Readme markdown={readme} />
              </Suspense>
            ) : (
              <p className="empty">{t('repo.noReadme')}</p>
            )}
          </div>
        )}
        <small id={`${readmeId}-hint`} className="hint">
          {t('settingsRepo.readmeHint')}
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

/** The API's limit (MAX_CATEGORIES_PER_REPOSITORY): it refuses more. */
const MAX_CATEGORIES = 3;

/** The categories Explore lists the repository under: chosen among those administrators keep. */
function Categories({ repository: r, reload }: { repository: Repository; reload(): void }) {
  const { t } = useI18n();
  const all = useLoad((signal) => api<Category[]>('/categories', { signal }), []);
  const [chosen, setChosen] = useState(() => r.categories.map((c) => c.slug));
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    await api(repositoryApi(r.namespace, r.name), { method: 'PATCH', json: { categories: chosen } });
    setSaved(true);
    reload();
  });
  const toggle = (slug: string, on: boolean) => {
    setSaved(false);
    setChosen((current) => (on ? [...current, slug] : current.filter((s) => s !== slug)));
  };
  return (
    <form
      className="card form"
      aria-labelledby="repo-categories"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h3 id="repo-categories">{t('settingsRepo.categories')}</h3>
      <Loaded state={all}>
        {(categories) =>
          categories.length === 0 ? (
            <Empty>{t('settingsRepo.noCategories')}</Empty>
          ) : (
            <>
              <fieldset className="category-choices" aria-describedby="repo-categories-hint">
                <legend className="visually-hidden">{t('settingsRepo.categories')}</legend>
                {categories.map((c) => {
                  const checked = chosen.includes(c.slug);
                  return (
                    <label key={c.slug} className="checkbox">
                      <input type="checkbox" name="categories" value={c.slug} checked={checked} disabled={!checked && chosen.length >= MAX_CATEGORIES} onChange={(e) => toggle(c.slug, e.target.checked)} /> {c.name}
                    </label>
                  );
                })}
              </fieldset>
              <small id="repo-categories-hint" className="hint">
                {t('settingsRepo.categoriesHint', { max: MAX_CATEGORIES })}
              </small>
              <ErrorNotice error={save.error} />
              {saved && (
                <p className="notice notice-success" role="status">
                  {t('common.saved')}
                </p>
              )}
              <Submit busy={save.busy}>{t('common.save')}</Submit>
            </>
          )
        }
      </Loaded>
    </form>
  );
}

function Visibility({ repository: r, reload }: { repository: Repository; reload(): void }) {
  const { t } = useI18n();
  const change = useAction(async (isPrivate: boolean) => {
    await api(repositoryApi(r.namespace, r.name), { method: 'PATCH', json: { is_private: isPrivate } });
    reload();
  });
  return (
    <div className="card" role="group" aria-labelledby="repo-visibility">
      <h3 id="repo-visibility">{t('settingsRepo.visibility')}</h3>
      <p>{r.is_private ? t('settingsRepo.isPrivate') : t('settingsRepo.isPublic')}</p>
      <button type="button" className="button" disabled={change.busy} onClick={() => void change.run(!r.is_private)}>
        {r.is_private ? t('settingsRepo.makePublic') : t('settingsRepo.makePrivate')}
      </button>
      <ErrorNotice error={change.error} />
    </div>
  );
}

function DeleteRepository({ repository: r }: { repository: Repository }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const full = `${r.namespace}/${r.name}`;
  const [confirm, setConfirm] = useState('');
  const [password, setPassword] = useState('');
  const remove = useAction(async () => {
    await api(repositoryApi(r.namespace, r.name), { method: 'DELETE', json: { confirm, password } });
    navigate('/dashboard', { replace: true });
  });
  return (
    <form
      className="card form danger-zone"
      aria-labelledby="repo-delete"
      onSubmit={(e) => {
        e.preventDefault();
        void remove.run();
      }}
    >
      <h3 id="repo-delete">{t('settingsRepo.delete')}</h3>
      <p>{t('settingsRepo.deleteWarning', { name: full })}</p>
      <Field label={t('settingsRepo.deleteConfirm', { name: full })} name="confirm" value={confirm} onChange={setConfirm} required autoComplete="off" />
      <Field label={t('password.current')} name="password" type="password" value={password} onChange={setPassword} required autoComplete="current-password" />
      <ErrorNotice error={remove.error} />
      <button type="submit" className="button danger" disabled={remove.busy || confirm !== full || !password}>
        {t('settingsRepo.deleteSubmit')}
      </button>
    </form>
  );
}

/** A personal repository has no teams: working together happens in an organisation. */
function PersonalTeammates() {
  const { t } = useI18n();
  return (
    <div className="card">
      <h3>{t('settingsRepo.teammates')}</h3>
      <p>{t('settingsRepo.teammatesPersonal')}</p>
      <p>
        <Link to="/orgs">{t('settingsRepo.teammatesLink')}</Link>
      </p>
    </div>
  );
}

type Level = 'none' | TeamPermission['permission'];

/**
 * The teams of the repository's organisation and what each may do with it; an owner changes it
 * here (a grant on `*` covers every repository: it is shown, and changed on the team's page).
 */
function TeamPermissions({ repository: r }: { repository: Repository }) {
  const { t } = useI18n();
  const org = r.namespace;
  const full = `${r.namespace}/${r.name}`;
  const state = useLoad(async (signal) => {
    const teams = await api<Paged<Team>>(`/orgs/${seg(org)}/teams`, { signal });
    return Promise.all(
      teams.results.map(async (team) => {
        const granted = await api<Paged<TeamPermission>>(`/orgs/${seg(org)}/teams/${seg(team.name)}/permissions`, { signal });
        return {
          team: team.name,
          own: granted.results.find((p) => p.repository === full)?.permission,
          all: granted.results.find((p) => p.repository === '*')?.permission,
        };
      }),
    );
  }, [org, full]);
  const change = useAction(async (team: string, level: Level) => {
    const path = `/orgs/${seg(org)}/teams/${seg(team)}/permissions/${seg(full)}`;
    if (level === 'none') await api(path, { method: 'DELETE' });
    else await api(path, { method: 'PUT', json: { permission: level } });
    state.reload();
  });
  // only the organisation's owners see its teams' grants: others are told who can
  if (state.error instanceof ApiError && (state.error.status === 403 || state.error.status === 404)) {
    return (
      <div className="card">
        <h3>{t('settingsRepo.teams')}</h3>
        <p className="hint">{t('settingsRepo.teamsOwnersOnly', { org })}</p>
      </div>
    );
  }
  const levels: Level[] = ['none', 'read', 'write', 'admin'];
  const label = (level: Level) => (level === 'none' ? t('settingsRepo.noAccess') : t(`permission.${level}`));
  return (
    <div className="card" role="group" aria-labelledby="repo-teams">
      <h3 id="repo-teams">{t('settingsRepo.teams')}</h3>
      {state.error ? (
        <ErrorNotice error={state.error} />
      ) : !state.data ? (
        <Loading />
      ) : state.data.length === 0 ? (
        <Empty>{t('settingsRepo.noTeams', { org })}</Empty>
      ) : (
        <DataTable caption={t('settingsRepo.teams')} columns={[t('orgs.teams'), t('teams.permission')]}>
          {state.data.map((row) => (
            <tr key={row.team}>
              <th scope="row">{row.team}</th>
              <td>
                <Select
                  label={t('settingsRepo.permissionOf', { team: row.team })}
                  name={`permission-${row.team}`}
                  hideLabel
                  value={(row.own ?? 'none') as Level}
                  options={levels.map((level) => ({ value: level, label: label(level) }))}
                  onChange={(level) => void change.run(row.team, level)}
                />
                {row.all && <small className="hint">{t('settingsRepo.allGrant', { permission: label(row.all) })}</small>}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <ErrorNotice error={change.error} />
    </div>
  );
}
