import { Link } from 'react-router';
import { useI18n } from '../i18n/i18n';

/** Previous / next links of a paged list; `href(page)` builds each page's URL. */
export function Pager({ page, pageSize, count, href }: { page: number; pageSize: number; count: number; href(page: number): string }) {
  const { t } = useI18n();
  const pages = Math.max(1, Math.ceil(count / pageSize));
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label={t('common.pages')}>
      {page > 1 ? <Link to={href(page - 1)} rel="prev">{t('common.previous')}</Link> : <span />}
      <span>{t('common.pageOf', { page, pages })}</span>
      {page < pages ? <Link to={href(page + 1)} rel="next">{t('common.next')}</Link> : <span />}
    </nav>
  );
}
