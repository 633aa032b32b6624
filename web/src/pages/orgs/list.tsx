// The caller's organisations, and creating one.
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import type { Organization, Paged } from '../../api/types';
import { RequireSession } from '../../components/require-session';
import { Empty, ErrorNotice, Field, Loaded, Submit, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import { OrgBadges } from './context';

export function OrgList() {
  const { t } = useI18n();
  useTitle(t('orgs.title'));
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const list = useLoad((signal) => api<Paged<Organization>>('/orgs', { signal }), []);
  const create = useAction(async () => {
    const org = await api<Organization>('/orgs', { method: 'POST', json: { name: name.trim() } });
    navigate(`/orgs/${seg(org.name)}`);
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <RequireSession>
      {() => (
        <div className="page">
          <h1>{t('orgs.title')}</h1>
          <Loaded state={list}>
            {(page) =>
              page.results.length === 0 ? (
                <Empty>{t('orgs.none')}</Empty>
              ) : (
                <ul className="cards">
                  {page.results.map((org) => (
                    <li key={org.name} className="card">
                      <Link to={`/orgs/${seg(org.name)}`} className="card-title">
                        {org.name}
                      </Link>{' '}
                      <OrgBadges org={org} />
                      <p className="hint">{org.role === 'owner' ? t('orgs.owner') : t('orgs.member')}</p>
                    </li>
                  ))}
                </ul>
              )
            }
          </Loaded>
          <form className="card form" onSubmit={submit} aria-labelledby="org-new">
            <h2 id="org-new">{t('orgs.create')}</h2>
            <Field label={t('orgs.name')} name="name" value={name} onChange={setName} required hint={t('orgs.nameHint')} maxLength={64} />
            <ErrorNotice error={create.error} />
            <Submit busy={create.busy}>{t('orgs.createSubmit')}</Submit>
          </form>
        </div>
      )}
    </RequireSession>
  );
}
