// The official images (the library organisation) and verified publishers.
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import type { Organization } from '../../api/types';
import { PushSteps } from '../../components/push-steps';
import { Badge, ErrorNotice, Field, Submit, Toggle, useAction, useTitle } from '../../components/ui';
import { useI18n } from '../../i18n/i18n';

export function AdminLibrary() {
  const { t } = useI18n();
  useTitle(t('admin.library'));
  const host = window.location.host;
  return (
    <section aria-labelledby="library-heading">
      <h2 id="library-heading">{t('admin.library')}</h2>
      <p>{t('admin.libraryIntro', { host })}</p>
      <p className="actions">
        <Link to="/orgs/library" className="button primary">
          {t('admin.manageLibrary')}
        </Link>
        <Link to="/search?official=true" className="button">
          {t('admin.seeOfficial')}
        </Link>
      </p>
      <h3>{t('admin.publishOfficial')}</h3>
      <p className="hint">{t('admin.publishOfficialHint')}</p>
      <PushSteps namespace="library" name="my-image" />
    </section>
  );
}

export function AdminPublishers() {
  const { t } = useI18n();
  useTitle(t('admin.publishers'));
  const [name, setName] = useState('');
  const [found, setFound] = useState<Organization>();
  const look = useAction(async () => {
    setFound(await api<Organization>(`/orgs/${seg(name.trim())}`));
  });
  return (
    <section aria-labelledby="publishers-heading">
      <h2 id="publishers-heading">{t('admin.publishers')}</h2>
      <p>{t('admin.publishersIntro')}</p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void look.run();
        }}
      >
        <Field label={t('orgs.name')} name="org" value={name} onChange={setName} required />
        <Submit busy={look.busy}>{t('admin.find')}</Submit>
      </form>
      <ErrorNotice error={look.error} />
      {found && (
        <div className="card">
          <p>
            <strong>{found.name}</strong> {found.verified_publisher && <Badge kind="verified">{t('badge.verified')}</Badge>}
          </p>
          <Toggle
            label={t('admin.verifiedOf', { name: found.name })}
            checked={found.verified_publisher}
            save={async (verified) => setFound(await api<Organization>(`/orgs/${seg(found.name)}/verified`, { method: 'PUT', json: { verified } }))}
          />
        </div>
      )}
    </section>
  );
}
