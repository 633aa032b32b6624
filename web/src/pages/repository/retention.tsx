// A retention policy: which tags stay (the last N pushed, those pulled within D days, those matching
// a pattern; a tag goes when no rule keeps it), the repository's own or its namespace's; a preview
// of what it would delete, and a run now.
import { useId, useState } from 'react';
import { api } from '../../api/browser';
import { ApiError } from '../../api/client';
import type { Repository, RetentionRules, RetentionRun, RetentionSettings } from '../../api/types';
import { ConfirmButton, DataTable, Empty, ErrorNotice, Field, Loaded, Submit, useAction } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import { isPlanRefusal, PlanGap, type FeatureGap } from './plan-gap';
import { repositoryApi } from './paths';
import { shortDigest } from './tags';

export function Retention({ repository: r, gap, reload }: { repository: Repository; gap: FeatureGap | undefined; reload(): void }) {
  const { t } = useI18n();
  const headingId = useId();
  const base = `${repositoryApi(r.namespace, r.name)}/retention`;
  const state = useLoad((signal) => api<RetentionSettings>(base, { signal }), [base]);
  // the plan said no to a change or a run (it lacks the feature): no more form, its words instead
  const [refusal, setRefusal] = useState<ApiError>();
  const refused = (error: unknown) => {
    if (isPlanRefusal(error)) setRefusal(error);
  };
  return (
    <div className="card" role="group" aria-labelledby={headingId}>
      <h4 id={headingId}>{t('retention.title')}</h4>
      <p>{t('retention.intro')}</p>
      <Loaded state={state}>
        {(settings) => (
          <>
            <PolicySummary settings={settings} namespace={r.namespace} />
            {gap || refusal ? (
              <>
                {gap ? <PlanGap gap={gap} what={t('retention.feature')} /> : <ErrorNotice error={refusal} />}
                {/* removing a policy stays possible without the feature */}
                {settings.policy && <RemovePolicy base={base} removed={state.reload} />}
              </>
            ) : (
              <>
                <PolicyForm key={JSON.stringify(settings.policy)} base={base} policy={settings.policy} saved={state.reload} refused={refused} />
                {settings.effective && <RunPolicy base={base} done={reload} refused={refused} />}
              </>
            )}
          </>
        )}
      </Loaded>
    </div>
  );
}

/** Which policy applies, whose it is, and its rules in words. */
function PolicySummary({ settings, namespace }: { settings: RetentionSettings; namespace: string }) {
  const { t, number } = useI18n();
  const rules = settings.effective;
  if (!rules) return <p className="notice">{t('retention.noPolicy')}</p>;
  return (
    <div className="notice">
      <strong>{settings.policy ? t('retention.own') : t('retention.inherited', { namespace })}</strong>
      <ul className="rules">
        {rules.keep_last !== null && <li>{t('retention.keepLastRule', { n: rules.keep_last, count: number(rules.keep_last) })}</li>}
        {rules.keep_pulled_days !== null && <li>{t('retention.keepPulledRule', { n: rules.keep_pulled_days, count: number(rules.keep_pulled_days) })}</li>}
        {rules.keep_pattern !== null && (
          <li>
            {t('retention.keepPatternRule')} <code>{rules.keep_pattern}</code>
          </li>
        )}
        <li>{t('retention.immutableKept')}</li>
      </ul>
    </div>
  );
}

type RuleField = keyof RetentionRules;

/** The PUT body of the form's fields: an empty field is a rule not used (left out); the server checks the rest. */
export function policyBody(values: Record<RuleField, string>): Partial<RetentionRules> {
  const body: Partial<RetentionRules> = {};
  if (values.keep_last.trim()) body.keep_last = Number(values.keep_last);
  if (values.keep_pulled_days.trim()) body.keep_pulled_days = Number(values.keep_pulled_days);
  if (values.keep_pattern.trim()) body.keep_pattern = values.keep_pattern.trim();
  return body;
}

/** The repository's own policy: empty fields are rules not used; saving replaces it, removing falls back to the namespace's. */
function PolicyForm({ base, policy, saved, refused }: { base: string; policy: RetentionRules | null; saved(): void; refused(error: unknown): void }) {
  const { t } = useI18n();
  const formId = useId();
  const [values, setValues] = useState<Record<RuleField, string>>({
    keep_last: policy?.keep_last?.toString() ?? '',
    keep_pulled_days: policy?.keep_pulled_days?.toString() ?? '',
    keep_pattern: policy?.keep_pattern ?? '',
  });
  const save = useAction(async () => {
    await api(base, { method: 'PUT', json: policyBody(values) }).catch((error: unknown) => {
      refused(error);
      throw error;
    });
    saved();
  });
  const set = (field: RuleField) => (value: string) => {
    setValues((current) => ({ ...current, [field]: value }));
    save.clearError();
  };
  const failure = save.error instanceof ApiError ? save.error : undefined;
  // a validation problem about one field is said under it; anything else (no rule set: the API's words) below the form
  const fieldError = (field: RuleField) => (failure?.kind === 'validation' ? failure.fieldError(field) : undefined);
  const placed = failure?.problem.errors?.some((e) => e.field in values) ?? false;
  return (
    <form
      className="form"
      aria-labelledby={formId}
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h5 id={formId}>{policy ? t('retention.editOwn') : t('retention.setOwn')}</h5>
      <p className="hint">{t('retention.formHint')}</p>
      <div className="rule-fields">
        <Field label={t('retention.keepLast')} name="keep_last" type="number" min={1} value={values.keep_last} onChange={set('keep_last')} hint={t('retention.keepLastHint')} error={fieldError('keep_last')} />
        <Field label={t('retention.keepPulled')} name="keep_pulled_days" type="number" min={1} value={values.keep_pulled_days} onChange={set('keep_pulled_days')} hint={t('retention.keepPulledHint')} error={fieldError('keep_pulled_days')} />
        <Field label={t('retention.keepPattern')} name="keep_pattern" value={values.keep_pattern} onChange={set('keep_pattern')} maxLength={200} autoComplete="off" hint={t('immutable.patternHint')} error={fieldError('keep_pattern')} />
      </div>
      {!placed && <ErrorNotice error={save.error} />}
      <div className="actions">
        <Submit busy={save.busy}>{t('retention.save')}</Submit>
        {policy && <RemovePolicy base={base} removed={saved} />}
      </div>
    </form>
  );
}

/** Removes the repository's own policy (its namespace's applies again, if any). */
function RemovePolicy({ base, removed }: { base: string; removed(): void }) {
  const { t } = useI18n();
  const remove = useAction(async () => {
    await api(base, { method: 'DELETE' });
    removed();
  });
  return (
    <>
      <ConfirmButton label={t('retention.remove')} confirmLabel={t('retention.confirmRemove')} busy={remove.busy} onConfirm={() => void remove.run()} />
      <ErrorNotice error={remove.error} />
    </>
  );
}

/** Preview (a dry run) and apply now, with what went or would go and why the others stay. */
function RunPolicy({ base, done, refused }: { base: string; done(): void; refused(error: unknown): void }) {
  const { t } = useI18n();
  const headingId = useId();
  const [report, setReport] = useState<RetentionRun>();
  const run = useAction(async (dryRun: boolean) => {
    setReport(undefined);
    const result = await api<RetentionRun>(`${base}/run?dry_run=${dryRun}`, { method: 'POST' }).catch((error: unknown) => {
      refused(error);
      throw error;
    });
    setReport(result);
    if (!dryRun) done();
  });
  return (
    <div className="retention-run" role="group" aria-labelledby={headingId}>
      <h5 id={headingId}>{t('retention.runTitle')}</h5>
      <p className="hint">{t('retention.runHint')}</p>
      <div className="actions">
        <button type="button" className="button" disabled={run.busy} onClick={() => void run.run(true)}>
          {t('retention.preview')}
        </button>
        <ConfirmButton label={t('retention.apply')} confirmLabel={t('retention.confirmApply')} busy={run.busy} onConfirm={() => void run.run(false)} />
      </div>
      <ErrorNotice error={run.error} />
      {report && <RunReport report={report} />}
    </div>
  );
}

function RunReport({ report }: { report: RetentionRun }) {
  const { t, number } = useI18n();
  const gone = report.deleted.length;
  const kept = report.kept.length;
  return (
    <div className="run-report">
      <p role="status" className={report.dry_run ? 'notice' : 'notice notice-success'}>
        {report.dry_run ? t('retention.wouldDelete', { n: gone, count: number(gone) }) : t('retention.deleted', { n: gone, count: number(gone) })} {t('retention.keptCount', { n: kept, count: number(kept) })}
      </p>
      {gone > 0 && (
        <>
          <h6>{report.dry_run ? t('retention.wouldGoCaption') : t('retention.goneCaption')}</h6>
          <DataTable caption={report.dry_run ? t('retention.wouldGoCaption') : t('retention.goneCaption')} columns={[t('tags.tag'), t('tags.digest'), t('retention.why')]}>
          {report.deleted.map((d) => (
            <tr key={d.tag}>
              <th scope="row">{d.tag}</th>
              <td className="mono" title={d.digest}>
                {shortDigest(d.digest)}
              </td>
              <td>
                {t('retention.noRuleKeeps')}
                <small className="hint reason">{d.reason}</small>
              </td>
            </tr>
          ))}
          </DataTable>
        </>
      )}
      <h6>{t('retention.keptCaption')}</h6>
      {kept === 0 ? (
        <Empty>{t('retention.noneKept')}</Empty>
      ) : (
        <DataTable caption={t('retention.keptCaption')} columns={[t('tags.tag'), t('tags.digest'), t('retention.whyKept')]}>
          {report.kept.map((k) => (
            <tr key={k.tag}>
              <th scope="row">{k.tag}</th>
              <td className="mono" title={k.digest}>
                {shortDigest(k.digest)}
              </td>
              <td>
                {t(`retention.keptBy.${k.rule}`)}
                <small className="hint reason">{k.reason}</small>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </div>
  );
}
