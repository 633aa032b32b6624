// Organisation access tokens (for CI).
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import type { AccessToken, CreatedToken, Paged } from '../../api/types';
import { TokenForm, TokenList } from '../../components/tokens';
import { Loaded, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import NotFound from '../not-found';
import { useOrg } from './context';

export function OrgTokens() {
  const { t } = useI18n();
  const { org, manager } = useOrg();
  useTitle(`${org.name}: ${t('orgs.tokens')}`);
  const base = `/orgs/${seg(org.name)}/tokens`;
  const list = useLoad((signal) => (manager ? api<Paged<AccessToken>>(base, { signal }) : Promise.resolve({ count: 0, results: [] })), [base, manager]);
  if (!manager) return <NotFound />;
  return (
    <section aria-labelledby="org-tokens-heading">
      <h2 id="org-tokens-heading">{t('orgs.tokens')}</h2>
      <p>{t('orgs.tokensIntro', { org: org.name })}</p>
      <TokenForm loginName={org.name} withRepositories create={(body) => api<CreatedToken>(base, { method: 'POST', json: body })} onCreated={list.reload} />
      <h3>{t('orgs.tokensList')}</h3>
      <Loaded state={list}>
        {(page) => (
          <TokenList
            tokens={page.results.map((token) => ({ ...token, repositories: token.repositories ?? null }))}
            revoke={async (id) => {
              await api(`${base}/${seg(id)}`, { method: 'DELETE' });
              list.reload();
            }}
          />
        )}
      </Loaded>
    </section>
  );
}
