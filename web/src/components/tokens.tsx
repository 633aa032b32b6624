// Access tokens, personal and organisation: the same form and list, over two sets of routes.
import { useState, type FormEvent } from 'react';
import { TOKEN_SCOPES, type AccessToken, type CreatedToken } from '../api/types';
import { useI18n } from '../i18n/i18n';
import { Badge, Checkbox, ConfirmButton, CopyField, DataTable, Empty, ErrorNotice, Field, Select, Submit, useAction } from './ui';

type Expiry = '30d' | '90d' | '365d' | 'never';

export interface TokenFormProps {
  /** POSTs the token and answers it, secret included */
  create(body: { label: string; scopes: string[]; expires_in: string | null; repositories?: string[] | null }): Promise<CreatedToken>;
  /** the username `docker login` takes with this token */
  loginName: string;
  /** organisation tokens may be limited to some repositories */
  withRepositories?: boolean;
  onCreated(): void;
}

export function TokenForm({ create, loginName, withRepositories, onCreated }: TokenFormProps) {
  const { t } = useI18n();
  const [label, setLabel] = useState('');
  const [scopes, setScopes] = useState<string[]>(['repo:read']);
  const [expiry, setExpiry] = useState<Expiry>('90d');
  const [repositories, setRepositories] = useState('');
  const [created, setCreated] = useState<CreatedToken>();
  const action = useAction(async () => {
    const list = repositories.split(/[\s,]+/).filter(Boolean);
    const token = await create({
      label: label.trim(),
      scopes,
      expires_in: expiry === 'never' ? null : expiry,
      ...(withRepositories ? { repositories: list.length > 0 ? list : null } : {}),
    });
    setCreated(token);
    setLabel('');
    onCreated();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run();
  };
  const toggle = (scope: string, on: boolean) => setScopes((s) => (on ? [...s, scope] : s.filter((x) => x !== scope)));
  const host = window.location.host;
  return (
    <>
      {created && (
        <section className="card created-token" aria-labelledby="token-created">
          <h3 id="token-created">{t('tokens.createdTitle', { label: created.label })}</h3>
          <p className="notice notice-warning">{t('tokens.shownOnce')}</p>
          <CopyField label={t('tokens.secret')} text={created.token} />
          <CopyField label={t('tokens.loginCommand')} text={`docker login ${host} -u ${loginName}`} />
          <p className="hint">{t('tokens.loginHint')}</p>
          <button type="button" className="button" onClick={() => setCreated(undefined)}>
            {t('tokens.done')}
          </button>
        </section>
      )}
      <form className="card form" onSubmit={submit} aria-labelledby="token-new">
        <h3 id="token-new">{t('tokens.new')}</h3>
        <Field label={t('tokens.label')} name="label" value={label} onChange={setLabel} required maxLength={100} hint={t('tokens.labelHint')} />
        <fieldset>
          <legend>{t('tokens.scopes')}</legend>
          {TOKEN_SCOPES.map((scope) => (
            <Checkbox key={scope} name="scope" label={`${scope} — ${t(`scope.${scope}`)}`} checked={scopes.includes(scope)} onChange={(on) => toggle(scope, on)} />
          ))}
        </fieldset>
        <Select<Expiry>
          label={t('tokens.expiry')}
          name="expiry"
          value={expiry}
          onChange={setExpiry}
          options={[
            { value: '30d', label: t('tokens.days', { days: 30 }) },
            { value: '90d', label: t('tokens.days', { days: 90 }) },
            { value: '365d', label: t('tokens.days', { days: 365 }) },
            { value: 'never', label: t('tokens.never') },
          ]}
        />
        {withRepositories && <Field label={t('tokens.repositories')} name="repositories" value={repositories} onChange={setRepositories} hint={t('tokens.repositoriesHint')} />}
        <ErrorNotice error={action.error} />
        <Submit busy={action.busy}>{t('tokens.create')}</Submit>
      </form>
    </>
  );
}

export function TokenList({ tokens, revoke }: { tokens: AccessToken[]; revoke(id: string): Promise<void> }) {
  const { t, date, relative } = useI18n();
  const action = useAction(revoke);
  if (tokens.length === 0) return <Empty>{t('tokens.none')}</Empty>;
  return (
    <>
      <ErrorNotice error={action.error} />
      <DataTable caption={t('tokens.listCaption')} columns={[t('tokens.label'), t('tokens.scopes'), tokens.some((tk) => tk.repositories !== undefined) && t('tokens.repositoriesColumn'), t('common.created'), t('tokens.lastUsed'), t('tokens.expires')]} actions>
        {tokens.map((token) => (
          <tr key={token.id}>
            <td>{token.label}</td>
            <td>{token.scopes.join(', ')}</td>
            {tokens.some((tk) => tk.repositories !== undefined) && <td>{token.repositories ? token.repositories.join(', ') : t('tokens.allRepositories')}</td>}
            <td>{date(token.created_at)}</td>
            <td>{token.last_used_at ? relative(token.last_used_at) : t('tokens.neverUsed')}</td>
            <td>{token.expired ? <Badge kind="expired">{t('tokens.expired')}</Badge> : token.expires_at ? date(token.expires_at) : t('tokens.never')}</td>
            <td>
              <ConfirmButton label={t('tokens.revoke')} confirmLabel={t('tokens.confirmRevoke', { label: token.label })} busy={action.busy} onConfirm={() => void action.run(token.id)} />
            </td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}
