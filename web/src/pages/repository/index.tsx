// A repository's pages (/r/<namespace>/<name>[/-/<view>]): loaded on first visit, like the account pages.
import { lazy, Suspense, useState } from 'react';
import { Link, useParams } from 'react-router';
import { api } from '../../api/browser';
import { ApiError } from '../../api/client';
import { useSession } from '../../api/session';
import type { Repository } from '../../api/types';
import { PushSteps, PushTagCommand } from '../../components/push-steps';
import { RepositoryBadges } from '../../components/repo-card';
import { CopyField, ErrorNotice, Loading, Tabs, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import NotFound from '../not-found';
import { Insights } from './insights';
import { displayName, parseRepositoryPath, pullCommand, repositoryApi, repositoryPath, type RepositoryLocation } from './paths';
import { TagPage } from './tag';
import { TagsTab } from './tags';

const Readme = lazy(() => import('../../markdown/readme'));
const SettingsTab = lazy(() => import('./settings'));

export function RepositoryPage() {
  const splat = useParams()['*'] ?? '';
  const location = parseRepositoryPath(splat);
  if (!location) return <NotFound />;
  return <RepositoryFrame key={`${location.namespace}/${location.name}`} location={location} />;
}

function RepositoryFrame({ location }: { location: RepositoryLocation }) {
  const { namespace, name } = location;
  const state = useLoad((signal) => api<Repository>(repositoryApi(namespace, name), { signal }), [namespace, name]);
  // a private repository the reader may not see answers like a missing one: the same page
  if (state.error instanceof ApiError && state.error.status === 404) return <NotFound />;
  if (state.error) return <ErrorNotice error={state.error} />;
  if (!state.data) return <Loading />;
  return <RepositoryView repository={state.data} location={location} reload={state.reload} />;
}

function StarButton({ repository }: { repository: Repository }) {
  const { t, number } = useI18n();
  const { me } = useSession();
  const [starred, setStarred] = useState(repository.is_starred);
  const [count, setCount] = useState(repository.star_count);
  const action = useAction(async () => {
    await api(`${repositoryApi(repository.namespace, repository.name)}/star`, { method: starred ? 'DELETE' : 'PUT' });
    setCount((c) => c + (starred ? -1 : 1));
    setStarred(!starred);
  });
  if (!me) {
    return (
      <span className="star">
        <span>{t('repo.starsCount', { n: count, count: number(count) })}</span>
        {me === null && <Link to={`/signin?next=${encodeURIComponent(repositoryPath(repository.namespace, repository.name))}`}>{t('repo.signInToStar')}</Link>}
      </span>
    );
  }
  return (
    <span className="star">
      <button type="button" className="button" aria-pressed={starred} disabled={action.busy} onClick={() => void action.run()}>
        <span aria-hidden="true">{starred ? '★' : '☆'}</span> {starred ? t('repo.starred') : t('repo.star')}
      </button>
      <span>{t('repo.starsCount', { n: count, count: number(count) })}</span>
      <ErrorNotice error={action.error} />
    </span>
  );
}

function RepositoryView({ repository: r, location, reload }: { repository: Repository; location: RepositoryLocation; reload(): void }) {
  const { t, number, relative, dateTime } = useI18n();
  const full = displayName(r.namespace, r.name);
  useTitle(full);
  const base = repositoryPath(r.namespace, r.name);
  const tabs = [
    { to: base, label: t('repo.overview') },
    { to: repositoryPath(r.namespace, r.name, 'tags'), label: t('repo.tags'), end: false },
    { to: repositoryPath(r.namespace, r.name, 'insights'), label: t('repo.insights') },
    ...(r.permissions.admin ? [{ to: repositoryPath(r.namespace, r.name, 'settings'), label: t('repo.settings') }] : []),
  ];
  return (
    <div className="page repository">
      <header className="repo-header">
        <p className="breadcrumb">
          <Link to={r.namespace === 'library' ? '/search?official=true' : `/search?q=${encodeURIComponent(r.namespace)}`}>{r.namespace === 'library' ? t('badge.official') : r.namespace}</Link>
        </p>
        <h1>
          <span className="repo-name">{full}</span> <RepositoryBadges repository={r} />
        </h1>
        <p className="lead">{r.description || t('repo.noDescription')}</p>
        <div className="repo-summary">
          <div className="commands">
            <CopyField label={t('repo.pullCommand')} text={pullCommand(window.location.host, r.namespace, r.name)} />
            {r.permissions.write && r.repository_type !== null && <PushTagCommand namespace={r.namespace} name={r.name} />}
          </div>
          <dl className="facts repo-facts">
            <dt>{t('repo.pulls')}</dt>
            <dd>{number(r.pull_count)}</dd>
            <dt>{t('repo.lastUpdated')}</dt>
            <dd>{r.last_updated ? <time dateTime={r.last_updated} title={dateTime(r.last_updated)}>{relative(r.last_updated)}</time> : t('repo.neverPushed')}</dd>
            <dt>{t('repo.size')}</dt>
            <dd>{r.repository_type === null ? '—' : <Size bytes={r.storage_size} />}</dd>
          </dl>
          <StarButton repository={r} />
        </div>
      </header>
      <Tabs label={t('repo.sections')} items={tabs} />
      {location.view === 'overview' && <Overview repository={r} />}
      {location.view === 'tags' && <TagsTab repository={r} />}
      {location.view === 'tag' && <TagPage repository={r} tag={location.tag!} />}
      {location.view === 'insights' && <Insights repository={r} />}
      {location.view === 'settings' &&
        (r.permissions.admin ? (
          <Suspense fallback={<Loading />}>
            <SettingsTab repository={r} reload={reload} />
          </Suspense>
        ) : (
          <NotFound />
        ))}
    </div>
  );
}

function Size({ bytes: value }: { bytes: number }) {
  const { bytes } = useI18n();
  return <>{bytes(value)}</>;
}

function Overview({ repository: r }: { repository: Repository }) {
  const { t } = useI18n();
  return (
    <div className="repo-overview">
      {r.repository_type === null && r.permissions.write && (
        <section aria-labelledby="repo-first-push" className="card">
          <h2 id="repo-first-push">{t('push.firstTitle')}</h2>
          <PushSteps namespace={r.namespace} name={r.name} />
        </section>
      )}
      {r.categories.length > 0 && (
        <ul className="chips" aria-label={t('repo.categories')}>
          {r.categories.map((c) => (
            <li key={c.slug}>
              <Link className="chip" to={`/search?category=${encodeURIComponent(c.slug)}`}>
                {c.name}
              </Link>
            </li>
          ))}
        </ul>
      )}
      <section aria-labelledby="repo-readme" className="card">
        <h2 id="repo-readme" className="visually-hidden">
          {t('repo.readme')}
        </h2>
        {r.full_description ? (
          <Suspense fallback={<Loading />}>
            <Readme markdown={r.full_description} />
          </Suspense>
        ) : (
          <p className="empty">
            {t('repo.noReadme')}{' '}
            {r.permissions.admin && <Link to={repositoryPath(r.namespace, r.name, 'settings')}>{t('repo.writeReadme')}</Link>}
          </p>
        )}
      </section>
    </div>
  );
}
