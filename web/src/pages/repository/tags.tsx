import { useEffect, useId, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api } from '../../api/browser';
import { TAG_ORDERINGS, type Paged, type Repository, type Tag, type TagImage, type TagOrdering } from '../../api/types';
import { Pager } from '../../components/pager';
import { PushSteps } from '../../components/push-steps';
import { Badge, CopyButton, DataTable, Empty, Loaded, Select } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import { pullCommand, repositoryApi, repositoryPath } from './paths';

const PAGE_SIZE = 25;

/** `linux/arm64/v8`, the way docker names a platform. */
export function platformName(image: Pick<TagImage, 'os' | 'architecture' | 'variant'>): string {
  return [image.os, image.architecture, image.variant].filter(Boolean).join('/');
}

/** A build step as written in a Dockerfile: the classic builder's `/bin/sh -c #(nop) ` and `/bin/sh -c ` prefixes become nothing and RUN. */
export function buildStep(instruction: string): string {
  const nop = /^\/bin\/sh -c #\(nop\)\s+/;
  if (nop.test(instruction)) return instruction.replace(nop, '');
  const shell = /^\/bin\/sh -c /;
  if (shell.test(instruction)) return `RUN ${instruction.replace(shell, '')}`;
  return instruction;
}

/** `sha256:0123456789ab`: enough of a digest to tell them apart; the full one in its title. */
export function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}

export function TagsTab({ repository: r }: { repository: Repository }) {
  const { t, bytes, relative, dateTime } = useI18n();
  const [params, setParams] = useSearchParams();
  const filterId = useId();
  const name = params.get('name') ?? '';
  const [filter, setFilter] = useState(name);
  const orderingParam = params.get('ordering');
  const ordering: TagOrdering = (TAG_ORDERINGS as readonly string[]).includes(orderingParam ?? '') ? (orderingParam as TagOrdering) : '-last_pushed';
  const page = Math.max(1, Number(params.get('page')) || 1);

  // the filter goes to the URL a moment after typing stops
  useEffect(() => {
    if (filter === name) return;
    const timer = setTimeout(() => {
      const next = new URLSearchParams(params);
      if (filter) next.set('name', filter);
      else next.delete('name');
      next.delete('page');
      setParams(next, { replace: true });
    }, 200);
    return () => clearTimeout(timer);
  }, [filter, name, params, setParams]);

  const query = new URLSearchParams({ ordering, page: String(page), page_size: String(PAGE_SIZE), ...(name ? { name } : {}) }).toString();
  const tags = useLoad((signal) => api<Paged<Tag>>(`${repositoryApi(r.namespace, r.name)}/tags?${query}`, { signal }), [r.namespace, r.name, query]);
  const host = window.location.host;
  const orderingLabels: Record<TagOrdering, string> = {
    '-last_pushed': t('tags.newest'),
    last_pushed: t('tags.oldest'),
    name: t('tags.nameAz'),
    '-name': t('tags.nameZa'),
  };

  return (
    <section aria-labelledby="tags-heading">
      <h2 id="tags-heading">{t('repo.tags')}</h2>
      <form className="inline-form" role="search" aria-label={t('tags.filterForm')} onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={filterId}>{t('tags.filter')}</label>
          <input id={filterId} type="search" name="name" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        <Select
          label={t('tags.sort')}
          name="ordering"
          value={ordering}
          options={(['-last_pushed', 'last_pushed', 'name', '-name'] as const).map((o) => ({ value: o, label: orderingLabels[o] }))}
          onChange={(v) => {
            const next = new URLSearchParams(params);
            next.set('ordering', v);
            next.delete('page');
            setParams(next);
          }}
        />
      </form>
      <Loaded state={tags}>
        {(found) =>
          found.results.length === 0 ? (
            <>
              <Empty>{name ? t('tags.noneMatching') : t('tags.none')}</Empty>
              {!name && r.permissions.write && <PushSteps namespace={r.namespace} name={r.name} />}
            </>
          ) : (
            <>
              <DataTable caption={t('repo.tags')} columns={[t('tags.tag'), t('tags.digest'), t('tags.platforms'), t('tags.size'), t('tags.lastPushed'), t('tags.pull')]}>
                {found.results.map((tag) => (
                  <tr key={tag.name}>
                    <th scope="row">
                      <Link to={repositoryPath(r.namespace, r.name, 'tag', tag.name)}>{tag.name}</Link>
                      {tag.tag_status === 'inactive' && (
                        <>
                          {' '}
                          <Badge kind="neutral">{t('tags.inactive')}</Badge>
                        </>
                      )}
                    </th>
                    <td className="mono" title={tag.digest}>
                      {shortDigest(tag.digest)}
                    </td>
                    <td>{tag.images.length === 0 ? <Badge kind="neutral">{t(`content.${tag.content_type}`)}</Badge> : tag.images.map(platformName).filter(Boolean).join(', ') || '—'}</td>
                    <td>{bytes(tag.full_size)}</td>
                    <td>
                      <time dateTime={tag.last_pushed} title={dateTime(tag.last_pushed)}>
                        {relative(tag.last_pushed)}
                      </time>
                      {tag.last_updater_username && <span className="hint"> {t('tags.by', { name: tag.last_updater_username })}</span>}
                    </td>
                    <td className="pull-cell">
                      <code className="pull-command">{pullCommand(host, r.namespace, r.name, tag.name)}</code>
                      <CopyButton text={pullCommand(host, r.namespace, r.name, tag.name)} label={t('tags.pullOf', { tag: tag.name })} />
                    </td>
                  </tr>
                ))}
              </DataTable>
              <Pager
                page={page}
                pageSize={PAGE_SIZE}
                count={found.count}
                href={(p) => {
                  const next = new URLSearchParams(params);
                  next.set('page', String(p));
                  return `?${next.toString()}`;
                }}
              />
            </>
          )
        }
      </Loaded>
    </section>
  );
}
