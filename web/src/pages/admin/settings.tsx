// Sign-up, pull login, anonymous pull limits.
import { useState } from 'react';
import { api } from '../../api/browser';
import type { HubSettings, PullLimits } from '../../api/types';
import { ErrorNotice, Field, Loaded, Submit, Toggle, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';

export function AdminSettings() {
  const { t } = useI18n();
  useTitle(t('admin.settings'));
  const settings = useLoad((signal) => api<HubSettings>('/settings', { signal }), []);
  const limits = useLoad((signal) => api<PullLimits>('/settings/pull-limits', { signal }), []);
  const change = async (body: Partial<HubSettings>) => {
    await api('/settings', { method: 'PUT', json: body });
    settings.reload();
  };
  return (
    <section aria-labelledby="settings-heading">
      <h2 id="settings-heading">{t('admin.settings')}</h2>
      <Loaded state={settings}>
        {(s) => (
          <div className="card">
            <Toggle label={t('admin.signupOpen')} checked={s.signup_open} save={(on) => change({ signup_open: on })} />
            <Toggle label={t('admin.pullRequiresLogin')} checked={s.pull_requires_login} save={(on) => change({ pull_requires_login: on })} />
          </div>
        )}
      </Loaded>
      <h3>{t('admin.pullLimits')}</h3>
      <Loaded state={limits}>{(l) => <PullLimitsForm limits={l} onSaved={limits.reload} />}</Loaded>
    </section>
  );
}

function PullLimitsForm({ limits, onSaved }: { limits: PullLimits; onSaved(): void }) {
  const { t } = useI18n();
  const [limit, setLimit] = useState(limits.anonymous_limit === null ? '' : String(limits.anonymous_limit));
  const [hours, setHours] = useState(String(limits.anonymous_window_seconds / 3600));
  const [exempt, setExempt] = useState(limits.exempt.join('\n'));
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    await api('/settings/pull-limits', {
      method: 'PUT',
      json: {
        anonymous_limit: limit.trim() === '' ? null : Number(limit),
        anonymous_window_seconds: Math.round(Number(hours) * 3600),
        exempt: exempt.split(/[\s,]+/).filter(Boolean),
      },
    });
    setSaved(true);
    onSaved();
  });
  return (
    <form
      className="card form"
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        void save.run();
      }}
    >
      <Field label={t('admin.anonymousLimit')} name="anonymous_limit" type="number" value={limit} onChange={setLimit} hint={t('admin.emptyUnlimited')} />
      <Field label={t('admin.windowHours')} name="window" type="number" value={hours} onChange={setHours} required />
      <div className="field">
        <label htmlFor="exempt">{t('admin.exempt')}</label>
        <textarea id="exempt" name="exempt" rows={4} value={exempt} onChange={(e) => setExempt(e.target.value)} aria-describedby="exempt-hint" />
        <small id="exempt-hint" className="hint">
          {t('admin.exemptHint')}
        </small>
      </div>
      <ErrorNotice error={save.error} />
      {saved && (
        <p className="notice notice-success" role="status">
          {t('common.saved')}
        </p>
      )}
      <Submit busy={save.busy}>{t('common.save')}</Submit>
    </form>
  );
}
