// Immutable tags: the patterns of tags a push may create but never move, and nobody may delete.
import { useId, useState } from 'react';
import { api } from '../../api/browser';
import { ApiError } from '../../api/client';
import type { ImmutableTagRule, Repository } from '../../api/types';
import { ConfirmButton, DataTable, Empty, ErrorNotice, Field, Loaded, Submit, useAction } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import { isPlanRefusal, PlanGap, type FeatureGap } from './plan-gap';
import { repositoryApi } from './paths';

export function ImmutableTags({ repository: r, gap }: { repository: Repository; gap: FeatureGap | undefined }) {
  const { t, relative, dateTime } = useI18n();
  const headingId = useId();
  const base = `${repositoryApi(r.namespace, r.name)}/immutable-tags`;
  const rules = useLoad((signal) => api<{ results: ImmutableTagRule[] }>(base, { signal }), [base]);
  const [pattern, setPattern] = useState('');
  const add = useAction(async () => {
    await api(base, { method: 'POST', json: { pattern: pattern.trim() } });
    setPattern('');
    rules.reload();
  });
  const remove = useAction(async (rule: string) => {
    await api(`${base}?pattern=${encodeURIComponent(rule)}`, { method: 'DELETE' });
    rules.reload();
  });
  // the plan lacks the feature: said by the API when the form was sent, or known from the usage before
  const refusedByPlan = isPlanRefusal(add.error);
  const invalid = add.error instanceof ApiError && add.error.kind === 'validation' ? (add.error.fieldError('pattern') ?? add.error.problem.detail) : undefined;
  return (
    <div className="card" role="group" aria-labelledby={headingId}>
      <h4 id={headingId}>{t('immutable.title')}</h4>
      <p>{t('immutable.intro')}</p>
      <Loaded state={rules}>
        {({ results }) =>
          results.length === 0 ? (
            <Empty>{t('immutable.none')}</Empty>
          ) : (
            <DataTable caption={t('immutable.title')} columns={[t('immutable.pattern'), t('immutable.added')]} actions>
              {results.map((rule) => (
                <tr key={rule.pattern}>
                  <th scope="row" className="mono">
                    {rule.pattern}
                  </th>
                  <td>
                    <time dateTime={rule.created_at} title={dateTime(rule.created_at)}>
                      {relative(rule.created_at)}
                    </time>
                    {rule.created_by && <> {t('tags.by', { name: rule.created_by })}</>}
                  </td>
                  <td>
                    <ConfirmButton label={t('immutable.remove', { pattern: rule.pattern })} confirmLabel={t('immutable.confirmRemove', { pattern: rule.pattern })} busy={remove.busy} onConfirm={() => void remove.run(rule.pattern)} />
                  </td>
                </tr>
              ))}
            </DataTable>
          )
        }
      </Loaded>
      <ErrorNotice error={remove.error} />
      {gap && !refusedByPlan ? (
        <PlanGap gap={gap} what={t('immutable.feature')} />
      ) : refusedByPlan ? (
        <ErrorNotice error={add.error} />
      ) : (
        <form
          className="inline-form"
          aria-label={t('immutable.add')}
          onSubmit={(e) => {
            e.preventDefault();
            void add.run();
          }}
        >
          <Field label={t('immutable.pattern')} name="pattern" value={pattern} onChange={(v) => {
              setPattern(v);
              add.clearError();
            }} required maxLength={200} autoComplete="off" hint={t('immutable.patternHint')} error={invalid} />
          <Submit busy={add.busy}>{t('immutable.addSubmit')}</Submit>
        </form>
      )}
      {!invalid && !refusedByPlan && <ErrorNotice error={add.error} />}
    </div>
  );
}
