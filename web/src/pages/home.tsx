import { Link } from 'react-router';
import { api } from '../api/browser';
import type { Category, Paged, RepositorySummary } from '../api/types';
import { useSession } from '../api/session';
import { RepositoryList } from '../components/repo-card';
import { CopyField, Empty, Loaded, useTitle } from '../components/ui';
import { useLoad } from '../components/use-load';
import { useI18n } from '../i18n/i18n';

const SHOWN = 8;

/** One shelf of Explore: the first repositories of a search, and a link to the whole search. */
function Shelf({ id, title, query, more, empty }: { id: string; title: string; query: string; more: string; empty: string }) {
  const { t } = useI18n();
  const state = useLoad((signal) => api<Paged<RepositorySummary>>(`/search?${query}&page_size=${SHOWN}`, { signal }), [query]);
  return (
    <section aria-labelledby={id} className="shelf">
      <div className="shelf-head">
        <h2 id={id}>{title}</h2>
        <Link to={more}>{t('explore.seeAll')}</Link>
      </div>
      <Loaded state={state}>{(page) => (page.results.length === 0 ? <Empty>{empty}</Empty> : <RepositoryList repositories={page.results} label={title} />)}</Loaded>
    </section>
  );
}

function Categories() {
  const { t } = useI18n();
  const state = useLoad((signal) => api<Category[]>('/categories', { signal }), []);
  return (
    <section aria-labelledby="explore-categories" className="shelf">
      <h2 id="explore-categories">{t('explore.categories')}</h2>
      <Loaded state={state}>
        {(categories) =>
          categories.length === 0 ? (
            <Empty>{t('explore.noCategories')}</Empty>
          ) : (
            <ul className="chips">
              {categories.map((c) => (
                <li key={c.slug}>
                  <Link to={`/search?category=${encodeURIComponent(c.slug)}`} className="chip" title={c.description || undefined}>
                    {c.name}
                  </Link>
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
    </section>
  );
}

/** Explore, the front page: what Pier holds (official images, verified publishers, most pulled, recent, categories) and how to start. */
export default function Home() {
  const { t } = useI18n();
  const { me } = useSession();
  useTitle(t('home.title'));
  const host = window.location.host;
  const user = me?.username ?? t('home.yourName');
  return (
    <div className="page home">
      <section className="hero">
        <h1>{t('home.heading')}</h1>
        <p className="lead">{t('home.lead')}</p>
        {me === null && (
          <p className="actions">
            <Link to="/signup" className="button primary">
              {t('home.createAccount')}
            </Link>
            <Link to="/signin" className="button">
              {t('shell.signIn')}
            </Link>
          </p>
        )}
      </section>
      <Shelf id="explore-official" title={t('explore.official')} query="is_official=true&ordering=-pull_count" more="/search?official=true" empty={t('explore.noOfficial')} />
      <Shelf id="explore-verified" title={t('explore.verified')} query="is_verified_publisher=true&ordering=-pull_count" more="/search?verified=true" empty={t('explore.noVerified')} />
      <Shelf id="explore-popular" title={t('explore.mostPulled')} query="ordering=-pull_count" more="/search?ordering=-pull_count" empty={t('explore.nothingYet')} />
      <Shelf id="explore-recent" title={t('explore.recent')} query="ordering=-last_updated" more="/search?ordering=-last_updated" empty={t('explore.nothingYet')} />
      <Categories />
      <section aria-labelledby="home-start">
        <h2 id="home-start">{t('home.start')}</h2>
        <ol className="steps">
          <li>
            <CopyField label={t('home.stepLogin')} text={`docker login ${host}`} />
          </li>
          <li>
            <CopyField label={t('home.stepTag')} text={`docker tag my-image ${host}/${user}/my-image:1.0`} />
          </li>
          <li>
            <CopyField label={t('home.stepPush')} text={`docker push ${host}/${user}/my-image:1.0`} />
          </li>
          <li>
            <CopyField label={t('home.stepPull')} text={`docker pull ${host}/nginx`} />
          </li>
        </ol>
        {me && (
          <p>
            <Link to="/settings/tokens">{t('home.tokensHint')}</Link>
          </p>
        )}
      </section>
    </div>
  );
}
