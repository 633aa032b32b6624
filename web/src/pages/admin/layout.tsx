// Administration: users, plans, the official namespace, verified publishers, categories, settings.
import { Outlet } from 'react-router';
import { RequireSession } from '../../components/require-session';
import { Tabs } from '../../components/ui';
import { useI18n } from '../../i18n/i18n';

export function AdminLayout() {
  const { t } = useI18n();
  return (
    <RequireSession admin>
      {() => (
        <div className="page">
          <h1>{t('admin.title')}</h1>
          <Tabs
            label={t('admin.sections')}
            items={[
              { to: '/admin', label: t('admin.users') },
              { to: '/admin/plans', label: t('admin.plans') },
              { to: '/admin/library', label: t('admin.library') },
              { to: '/admin/publishers', label: t('admin.publishers') },
              { to: '/admin/categories', label: t('admin.categories') },
              { to: '/admin/settings', label: t('admin.settings') },
            ]}
          />
          <Outlet />
        </div>
      )}
    </RequireSession>
  );
}
