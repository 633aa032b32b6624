// A repository's lifecycle, in its settings (administrators only, as the whole page): which tags
// may never move or go (immutable tags), and which ones a retention policy deletes.
import type { Repository } from '../../api/types';
import { Loading } from '../../components/ui';
import { useI18n } from '../../i18n/i18n';
import { ImmutableTags } from './immutable-tags';
import { usePlanFeatures } from './plan-gap';
import { Retention } from './retention';

export function Lifecycle({ repository: r, reload }: { repository: Repository; reload(): void }) {
  const { t } = useI18n();
  const gap = usePlanFeatures(r.namespace);
  return (
    <section className="lifecycle" aria-labelledby="repo-lifecycle">
      <h3 id="repo-lifecycle">{t('lifecycle.title')}</h3>
      <p className="hint">{t('lifecycle.intro')}</p>
      {gap ? (
        <>
          <ImmutableTags repository={r} gap={gap('tag-immutability')} />
          <Retention repository={r} gap={gap('retention-policies')} reload={reload} />
        </>
      ) : (
        <Loading />
      )}
    </section>
  );
}
