// Plans: their limits, edited; granted to a user or an organisation.
import { useState } from 'react';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import type { Paged, Plan } from '../../api/types';
import { DataTable, ErrorNotice, Field, Loaded, Select, Submit, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';

function limitText(value: number | null, format: (n: number) => string, unlimited: string): string {
  return value === null ? unlimited : format(value);
}

export function AdminPlans() {
  const { t, number, bytes } = useI18n();
  useTitle(t('admin.plans'));
  const list = useLoad((signal) => api<Paged<Plan>>('/plans', { signal }), []);
  const [namespace, setNamespace] = useState('');
  const [plan, setPlan] = useState('');
  const [granted, setGranted] = useState<string>();
  const grant = useAction(async () => {
    await api(`/namespaces/${seg(namespace.trim())}/plan`, { method: 'PUT', json: { plan } });
    setGranted(t('admin.granted', { plan, name: namespace.trim() }));
    setNamespace('');
  });
  const [editing, setEditing] = useState<Plan>();
  const save = useAction(async (changed: Plan) => {
    await api(`/plans/${seg(changed.name)}`, {
      method: 'PUT',
      json: {
        title: changed.title,
        price_label: changed.price_label,
        private_repositories: changed.private_repositories,
        storage_bytes: changed.storage_bytes,
        pulls_per_window: changed.pulls_per_window,
        seats: changed.seats,
      },
    });
    setEditing(undefined);
    list.reload();
  });
  const unlimited = t('common.unlimited');
  return (
    <section aria-labelledby="plans-heading">
      <h2 id="plans-heading">{t('admin.plans')}</h2>
      <p className="hint">{t('admin.plansIntro')}</p>
      <Loaded state={list}>
        {(plans) => (
          <>
            <DataTable caption={t('admin.plans')} columns={[t('admin.plan'), t('admin.price'), t('usage.privateRepositories'), t('usage.storage'), t('admin.pullsPerWindow'), t('admin.seats')]} actions>
              {plans.results.map((p) => (
                <tr key={p.name}>
                  <td>
                    {p.title} <code>{p.name}</code>
                  </td>
                  <td>{p.price_label}</td>
                  <td>{limitText(p.private_repositories, number, unlimited)}</td>
                  <td>{limitText(p.storage_bytes, bytes, unlimited)}</td>
                  <td>
                    {p.pulls_per_window === null ? unlimited : t('admin.pullsWindow', { pulls: number(p.pulls_per_window), hours: Math.round(p.pull_window_seconds / 3600) })}
                  </td>
                  <td>{limitText(p.seats, number, unlimited)}</td>
                  <td>
                    <button type="button" className="button" onClick={() => setEditing(p)}>
                      {t('admin.editPlan', { plan: p.name })}
                    </button>
                  </td>
                </tr>
              ))}
            </DataTable>
            {editing && <PlanEditor plan={editing} busy={save.busy} error={save.error} onSave={(p) => void save.run(p)} onCancel={() => setEditing(undefined)} />}
            <form
              className="card form"
              onSubmit={(e) => {
                e.preventDefault();
                setGranted(undefined);
                void grant.run();
              }}
              aria-labelledby="grant-plan"
            >
              <h3 id="grant-plan">{t('admin.grantPlan')}</h3>
              <Field label={t('admin.namespace')} name="namespace" value={namespace} onChange={setNamespace} required />
              <Select label={t('admin.plan')} name="plan" value={plan || plans.results[0]?.name || ''} options={plans.results.map((p) => ({ value: p.name, label: p.title || p.name }))} onChange={setPlan} />
              <ErrorNotice error={grant.error} />
              {granted && (
                <p className="notice notice-success" role="status">
                  {granted}
                </p>
              )}
              <Submit busy={grant.busy}>{t('admin.grantSubmit')}</Submit>
            </form>
          </>
        )}
      </Loaded>
    </section>
  );
}

function PlanEditor({ plan, busy, error, onSave, onCancel }: { plan: Plan; busy: boolean; error: unknown; onSave(plan: Plan): void; onCancel(): void }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState(() => ({
    title: plan.title,
    price_label: plan.price_label,
    private_repositories: plan.private_repositories === null ? '' : String(plan.private_repositories),
    storage_bytes: plan.storage_bytes === null ? '' : String(plan.storage_bytes),
    pulls_per_window: plan.pulls_per_window === null ? '' : String(plan.pulls_per_window),
    seats: plan.seats === null ? '' : String(plan.seats),
  }));
  const limit = (value: string) => (value.trim() === '' ? null : Number(value));
  const set = (key: keyof typeof draft) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));
  return (
    <form
      className="card form"
      onSubmit={(e) => {
        e.preventDefault();
        onSave({
          ...plan,
          title: draft.title,
          price_label: draft.price_label,
          private_repositories: limit(draft.private_repositories),
          storage_bytes: limit(draft.storage_bytes),
          pulls_per_window: limit(draft.pulls_per_window),
          seats: limit(draft.seats),
        });
      }}
      aria-labelledby="plan-edit"
    >
      <h3 id="plan-edit">{t('admin.editPlan', { plan: plan.name })}</h3>
      <p className="hint">{t('admin.emptyUnlimited')}</p>
      <Field label={t('admin.planTitle')} name="title" value={draft.title} onChange={set('title')} required />
      <Field label={t('admin.price')} name="price_label" value={draft.price_label} onChange={set('price_label')} />
      <Field label={t('usage.privateRepositories')} name="private_repositories" type="number" value={draft.private_repositories} onChange={set('private_repositories')} />
      <Field label={t('admin.storageBytes')} name="storage_bytes" type="number" value={draft.storage_bytes} onChange={set('storage_bytes')} />
      <Field label={t('admin.pullsPerWindow')} name="pulls_per_window" type="number" value={draft.pulls_per_window} onChange={set('pulls_per_window')} />
      <Field label={t('admin.seats')} name="seats" type="number" value={draft.seats} onChange={set('seats')} />
      <ErrorNotice error={error} />
      <Submit busy={busy}>{t('common.save')}</Submit>{' '}
      <button type="button" className="button" onClick={onCancel}>
        {t('common.cancel')}
      </button>
    </form>
  );
}
