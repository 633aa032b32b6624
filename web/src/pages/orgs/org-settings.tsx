// Default visibility, plan and usage, deletion.
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import type { Usage } from '../../api/types';
import { ErrorNotice, Field, Loaded, Toggle, UsageBar, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import NotFound from '../not-found';
import { useOrg } from './context';

export function OrgSettings() {
  const { t, number, bytes } = useI18n();
  const { org, manager, reload } = useOrg();
  const navigate = useNavigate();
  useTitle(`${org.name}: ${t('orgs.settings')}`);
  const usage = useLoad((signal) => (manager ? api<Usage>(`/namespaces/${seg(org.name)}/usage`, { signal }) : Promise.reject(new Error('not a manager'))), [org.name, manager]);
  const [confirm, setConfirm] = useState('');
  const [password, setPassword] = useState('');
  const remove = useAction(async () => {
    await api(`/orgs/${seg(org.name)}`, { method: 'DELETE', json: { confirm, password } });
    navigate('/orgs', { replace: true });
  });
  if (!manager) return <NotFound />;
  return (
    <section aria-labelledby="org-settings-heading">
      <h2 id="org-settings-heading">{t('orgs.settings')}</h2>
      <h3>{t('profile.defaultVisibility')}</h3>
      <div className="card">
        <Toggle
          label={t('profile.defaultPrivate')}
          name="default_private"
          checked={org.default_private}
          save={async (on) => {
            await api(`/orgs/${seg(org.name)}`, { method: 'PATCH', json: { default_private: on } });
            reload();
          }}
        />
      </div>
      <h3>{t('usage.title')}</h3>
      <Loaded state={usage}>
        {(u) => (
          <div className="card">
            <p>{t('usage.plan', { plan: u.plan.title || u.plan.name })}</p>
            <UsageBar label={t('usage.privateRepositories')} used={u.private_repositories} limit={u.limits.private_repositories} format={number} />
            <UsageBar label={t('usage.storage')} used={u.storage_bytes} limit={u.limits.storage_bytes} format={bytes} />
          </div>
        )}
      </Loaded>
      <h3>{t('orgs.delete')}</h3>
      <form
        className="card form danger-zone"
        onSubmit={(e) => {
          e.preventDefault();
          void remove.run();
        }}
      >
        <p>{t('orgs.deleteWarning', { org: org.name })}</p>
        <Field label={t('orgs.deleteConfirm', { org: org.name })} name="confirm" value={confirm} onChange={setConfirm} required autoComplete="off" />
        <Field label={t('field.password')} name="password" type="password" value={password} onChange={setPassword} required autoComplete="current-password" />
        <ErrorNotice error={remove.error} />
        <button type="submit" className="button danger" disabled={remove.busy || confirm !== org.name}>
          {t('orgs.deleteSubmit')}
        </button>
      </form>
    </section>
  );
}
