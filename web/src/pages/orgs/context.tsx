// One organisation: its header and tabs, and what its pages share (the organisation, whether the caller manages it).
import { Outlet, useOutletContext, useParams } from 'react-router';
import { api } from '../../api/browser';
import { ApiError, seg } from '../../api/client';
import type { Organization } from '../../api/types';
import { RequireSession } from '../../components/require-session';
import { Badge, Loaded, Tabs, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import NotFound from '../not-found';

export function OrgBadges({ org }: { org: Organization }) {
  const { t } = useI18n();
  return (
    <>
      {org.official && <Badge kind="official">{t('badge.official')}</Badge>}
      {org.verified_publisher && <Badge kind="verified">{t('badge.verified')}</Badge>}
    </>
  );
}

export interface OrgContext {
  org: Organization;
  /** the caller owns it (or administers Pier) */
  manager: boolean;
  reload(): void;
}

export const useOrg = () => useOutletContext<OrgContext>();

export function OrgLayout() {
  const { t, date } = useI18n();
  const { org: name = '' } = useParams();
  const state = useLoad((signal) => api<Organization>(`/orgs/${seg(name)}`, { signal }), [name]);
  useTitle(name);
  return (
    <RequireSession>
      {(me) =>
        state.error instanceof ApiError && state.error.status === 404 ? (
          <NotFound />
        ) : (
          <div className="page">
            <Loaded state={state}>
              {(org) => {
                const manager = org.role === 'owner' || me.admin;
                const base = `/orgs/${seg(org.name)}`;
                return (
                  <>
                    <h1>
                      {org.name} <OrgBadges org={org} />
                    </h1>
                    <p className="hint">{t('orgs.since', { date: date(org.created_at) })}</p>
                    <Tabs
                      label={t('orgs.sections')}
                      items={[
                        { to: base, label: t('orgs.members') },
                        { to: `${base}/teams`, label: t('orgs.teams'), end: false },
                        ...(manager ? [{ to: `${base}/tokens`, label: t('orgs.tokens') }, { to: `${base}/settings`, label: t('orgs.settings') }] : []),
                      ]}
                    />
                    <Outlet context={{ org, manager, reload: state.reload } satisfies OrgContext} />
                  </>
                );
              }}
            </Loaded>
          </div>
        )
      }
    </RequireSession>
  );
}
