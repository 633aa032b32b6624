// The signed-in home: my repositories and those of my organisations, and a form to create one.
import { useId, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/browser';
import { seg } from '../api/client';
import type { Me, Organization, Paged, Repository, RepositorySummary } from '../api/types';
import { RequireSession } from '../components/require-session';
import { PushSteps } from '../components/push-steps';
import { RepositoryList } from '../components/repo-card';
import { Empty, ErrorNotice, Field, Loaded, Select, Submit, useAction, useTitle } from '../components/ui';
import { useLoad } from '../components/use-load';
import { useI18n } from '../i18n/i18n';
import { repositoryPath } from './repository/paths';

export function Dashboard() {
  return <RequireSession>{(me) => <DashboardOf me={me} />}</RequireSession>;
}

function DashboardOf({ me }: { me: Me }) {
  const { t } = useI18n();
  useTitle(t('dashboard.title'));
  const orgs = useLoad((signal) => api<Paged<Organization>>('/orgs?page_size=100', { signal }), [me.username]);
  const namespaces = [me.username, ...(orgs.data?.results ?? []).map((o) => o.name)];
  return (
    <div className="page dashboard">
      <h1>{t('dashboard.title')}</h1>
      <CreateRepository me={me} namespaces={namespaces} />
      <NamespaceRepositories namespace={me.username} title={t('dashboard.mine')} mine />
      <ErrorNotice error={orgs.error} />
      {(orgs.data?.results ?? []).map((o) => (
        <NamespaceRepositories key={o.name} namespace={o.name} title={t('dashboard.ofOrg', { org: o.name })} />
      ))}
    </div>
  );
}

function NamespaceRepositories({ namespace, title, mine }: { namespace: string; title: string; mine?: boolean }) {
  const { t } = useI18n();
  const id = useId();
  const list = useLoad(
    (signal) => api<Paged<RepositorySummary>>(`/namespaces/${seg(namespace)}/repositories?ordering=-last_updated&page_size=100`, { signal }),
    [namespace],
  );
  return (
    <section aria-labelledby={id} className="shelf">
      <h2 id={id}>{title}</h2>
      <Loaded state={list}>
        {(page) =>
          page.results.length === 0 ? (
            <>
              <Empty>{t('dashboard.none')}</Empty>
              {mine && (
                <>
                  <p>{t('dashboard.firstPush')}</p>
                  <PushSteps namespace={namespace} name="my-image" />
                </>
              )}
            </>
          ) : (
            <>
              <RepositoryList repositories={page.results} label={title} />
              {page.count > page.results.length && (
                <p>
                  <Link to={`/search?q=${encodeURIComponent(namespace)}`}>{t('dashboard.more', { count: page.count })}</Link>
                </p>
              )}
            </>
          )
        }
      </Loaded>
    </section>
  );
}

function CreateRepository({ me, namespaces }: { me: Me; namespaces: string[] }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [namespace, setNamespace] = useState(me.username);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [visibility, setVisibility] = useState<'public' | 'private'>(me.default_private ? 'private' : 'public');
  const create = useAction(async () => {
    const created = await api<Repository>(`/namespaces/${seg(namespace)}/repositories`, {
      method: 'POST',
      json: { name: name.trim(), is_private: visibility === 'private', ...(description.trim() ? { description: description.trim() } : {}) },
    });
    navigate(repositoryPath(created.namespace, created.name));
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <details className="card create-repository">
      <summary className="button primary">{t('dashboard.create')}</summary>
      <form className="form" onSubmit={submit} aria-label={t('dashboard.create')}>
        <div className="inline-form">
          <Select label={t('dashboard.namespace')} name="namespace" value={namespace} options={namespaces.map((n) => ({ value: n, label: n }))} onChange={setNamespace} />
          <Field label={t('dashboard.name')} name="name" value={name} onChange={setName} required autoComplete="off" hint={t('dashboard.nameHint')} />
        </div>
        <Field label={t('settingsRepo.description')} name="description" value={description} onChange={setDescription} maxLength={100} />
        <fieldset>
          <legend>{t('settingsRepo.visibility')}</legend>
          <label className="checkbox">
            <input type="radio" name="visibility" value="public" checked={visibility === 'public'} onChange={() => setVisibility('public')} /> {t('settingsRepo.isPublic')}
          </label>
          <label className="checkbox">
            <input type="radio" name="visibility" value="private" checked={visibility === 'private'} onChange={() => setVisibility('private')} /> {t('settingsRepo.isPrivate')}
          </label>
        </fieldset>
        <ErrorNotice error={create.error} />
        <Submit busy={create.busy}>{t('dashboard.createSubmit')}</Submit>
      </form>
    </details>
  );
}
