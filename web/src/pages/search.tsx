import { useSearchParams } from 'react-router';
import { api } from '../api/browser';
import { SEARCH_ORDERINGS, type Category, type Paged, type RepositorySummary, type SearchOrdering } from '../api/types';
import { Pager } from '../components/pager';
import { RepositoryList } from '../components/repo-card';
import { Checkbox, Empty, ErrorNotice, Loaded, Select, useTitle } from '../components/ui';
import { useLoad } from '../components/use-load';
import { useI18n } from '../i18n/i18n';

const PAGE_SIZE = 25;

/** The search's state is the page's URL: ?q, official, verified, category, type, ordering, page. */
export function searchApiQuery(params: URLSearchParams): string {
  const out = new URLSearchParams();
  out.set('q', params.get('q') ?? '');
  if (params.get('official') === 'true') out.set('is_official', 'true');
  if (params.get('verified') === 'true') out.set('is_verified_publisher', 'true');
  const category = params.get('category');
  if (category) out.set('category', category);
  const type = params.get('type');
  if (type === 'image' || type === 'artifact') out.set('type', type);
  const ordering = params.get('ordering');
  if (ordering && (SEARCH_ORDERINGS as readonly string[]).includes(ordering)) out.set('ordering', ordering);
  const page = Number(params.get('page'));
  if (Number.isInteger(page) && page > 1) out.set('page', String(page));
  out.set('page_size', String(PAGE_SIZE));
  return out.toString();
}

export default function Search() {
  const { t, number } = useI18n();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  useTitle(q ? t('search.titleFor', { q }) : t('search.title'));
  const apiQuery = searchApiQuery(params);
  const results = useLoad((signal) => api<Paged<RepositorySummary>>(`/search?${apiQuery}`, { signal }), [apiQuery]);
  const categories = useLoad((signal) => api<Category[]>('/categories', { signal }), []);
  const page = Math.max(1, Number(params.get('page')) || 1);

  const set = (key: string, value: string | undefined) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    next.delete('page');
    setParams(next);
  };
  const orderingLabels: Record<SearchOrdering, string> = {
    best: t('search.best'),
    '-pull_count': t('search.mostPulled'),
    '-star_count': t('search.mostStarred'),
    '-last_updated': t('search.recentlyUpdated'),
  };

  return (
    <div className="page search-page">
      <h1>{q ? t('search.titleFor', { q }) : t('search.title')}</h1>
      <div className="search-layout">
        <form className="filters form" aria-label={t('search.filters')} onSubmit={(e) => e.preventDefault()}>
          <fieldset>
            <legend>{t('search.trust')}</legend>
            <Checkbox label={t('badge.official')} name="official" checked={params.get('official') === 'true'} onChange={(on) => set('official', on ? 'true' : undefined)} />
            <Checkbox label={t('badge.verified')} name="verified" checked={params.get('verified') === 'true'} onChange={(on) => set('verified', on ? 'true' : undefined)} />
          </fieldset>
          <Select
            label={t('search.type')}
            name="type"
            value={(params.get('type') ?? '') as '' | 'image' | 'artifact'}
            options={[
              { value: '', label: t('search.anyType') },
              { value: 'image', label: t('search.images') },
              { value: 'artifact', label: t('search.artifacts') },
            ]}
            onChange={(v) => set('type', v || undefined)}
          />
          <Select
            label={t('search.category')}
            name="category"
            value={params.get('category') ?? ''}
            options={[{ value: '', label: t('search.anyCategory') }, ...(categories.data ?? []).map((c) => ({ value: c.slug, label: c.name }))]}
            onChange={(v) => set('category', v || undefined)}
          />
          <ErrorNotice error={categories.error} />
          <Select
            label={t('search.sort')}
            name="ordering"
            value={(params.get('ordering') ?? 'best') as SearchOrdering}
            options={SEARCH_ORDERINGS.map((o) => ({ value: o, label: orderingLabels[o] }))}
            onChange={(v) => set('ordering', v === 'best' ? undefined : v)}
          />
        </form>
        <section className="results" aria-label={t('search.results')}>
          <Loaded state={results}>
            {(found) => (
              <>
                <p id="search-count" className="result-count" role="status">
                  {t('search.count', { count: found.count, formatted: number(found.count) })}
                </p>
                {found.results.length === 0 ? (
                  <Empty>{t('search.none')}</Empty>
                ) : (
                  <RepositoryList repositories={found.results} label={t('search.results')} />
                )}
                <Pager
                  page={page}
                  pageSize={PAGE_SIZE}
                  count={found.count}
                  href={(p) => {
                    const next = new URLSearchParams(params);
                    next.set('page', String(p));
                    return `/search?${next.toString()}`;
                  }}
                />
              </>
            )}
          </Loaded>
        </section>
      </div>
    </div>
  );
}
