import { Link } from 'react-router';
import { useTitle } from '../components/ui';
import { useI18n } from '../i18n/i18n';

/** The one "not found" page: a missing page and a private one the reader may not see look the same. */
export default function NotFound() {
  const { t } = useI18n();
  useTitle(t('notFound.title'));
  return (
    <div className="page narrow not-found">
      <h1>{t('notFound.title')}</h1>
      <p>{t('notFound.body')}</p>
      <p>
        <Link to="/" className="button primary">
          {t('notFound.home')}
        </Link>
      </p>
    </div>
  );
}
