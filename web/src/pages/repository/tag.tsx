import { Link } from 'react-router';
import { api } from '../../api/browser';
import { ApiError } from '../../api/client';
import type { Image, Repository, Tag } from '../../api/types';
import { Badge, CopyField, DataTable, Empty, ErrorNotice, Loading, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import NotFound from '../not-found';
import { displayName, pullCommand, repositoryApi, repositoryPath } from './paths';
import { buildStep, platformName, shortDigest } from './tags';

/** A tag: its digest, who pushed it, its platforms and, for each, the layers and the build steps that made them. */
export function TagPage({ repository: r, tag }: { repository: Repository; tag: string }) {
  const { t, bytes, number, dateTime } = useI18n();
  useTitle(`${displayName(r.namespace, r.name)}:${tag}`);
  const path = `${repositoryApi(r.namespace, r.name)}/tags/${encodeURIComponent(tag)}`;
  const state = useLoad(async (signal) => {
    const [found, images] = await Promise.all([api<Tag>(path, { signal }), api<Image[]>(`${path}/images`, { signal })]);
    return { tag: found, images };
  }, [path]);
  if (state.error instanceof ApiError && state.error.status === 404) return <NotFound />;
  if (state.error) return <ErrorNotice error={state.error} />;
  if (!state.data) return <Loading />;
  const { tag: found, images } = state.data;
  return (
    <section aria-labelledby="tag-heading" className="tag-page">
      <p>
        <Link to={repositoryPath(r.namespace, r.name, 'tags')}>{t('tag.allTags')}</Link>
      </p>
      <h2 id="tag-heading">
        {t('tag.heading', { tag: found.name })} <Badge kind="neutral">{t(`content.${found.content_type}`)}</Badge>
      </h2>
      <CopyField label={t('repo.pullCommand')} text={pullCommand(window.location.host, r.namespace, r.name, found.name)} />
      <dl className="facts">
        <dt>{t('tags.digest')}</dt>
        <dd className="mono break">{found.digest}</dd>
        <dt>{t('tags.size')}</dt>
        <dd>{bytes(found.full_size)}</dd>
        <dt>{t('tags.lastPushed')}</dt>
        <dd>
          {dateTime(found.last_pushed)}
          {found.last_updater_username && ` ${t('tags.by', { name: found.last_updater_username })}`}
        </dd>
        <dt>{t('repo.pulls')}</dt>
        <dd>{number(found.pull_count)}</dd>
        <dt>{t('tag.lastPulled')}</dt>
        <dd>{found.last_pulled ? dateTime(found.last_pulled) : t('tag.neverPulled')}</dd>
      </dl>
      <h3>{t('tag.platforms', { count: images.length })}</h3>
      {images.length === 0 && <Empty>{t('tag.noImages')}</Empty>}
      {images.map((image, index) => (
        <PlatformImage key={image.digest} image={image} open={index === 0} />
      ))}
    </section>
  );
}

function PlatformImage({ image, open }: { image: Image; open: boolean }) {
  const { t, bytes, number, dateTime } = useI18n();
  const platform = platformName(image) || t('tag.unknownPlatform');
  const layers = image.layers.filter((l) => !l.empty_layer).length;
  return (
    <details className="card platform" open={open}>
      <summary>
        <strong>{platform}</strong> <span className="mono hint" title={image.digest}>{shortDigest(image.digest)}</span>{' '}
        <span className="hint">{t('tag.layerSummary', { n: layers, layers: number(layers), size: bytes(image.size) })}</span>
      </summary>
      {image.created && <p className="hint">{t('tag.created', { date: dateTime(image.created) })}</p>}
      {image.layers.length === 0 ? (
        <Empty>{t('tag.noLayers')}</Empty>
      ) : (
        <DataTable caption={t('tag.layersOf', { platform })} columns={['#', t('tag.instruction'), t('tags.size')]}>
          {image.layers.map((layer, index) => (
            <tr key={index} className={layer.empty_layer ? 'empty-layer' : undefined}>
              <td>{index + 1}</td>
              <td>
                {layer.instruction ? <code className="instruction" title={layer.instruction}>{buildStep(layer.instruction)}</code> : <span className="hint">{layer.digest ? shortDigest(layer.digest) : '—'}</span>}
                {layer.empty_layer && (
                  <>
                    {' '}
                    <Badge kind="neutral">{t('tag.emptyLayer')}</Badge>
                  </>
                )}
              </td>
              <td>{layer.empty_layer ? '—' : bytes(layer.size)}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </details>
  );
}
