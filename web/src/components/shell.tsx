import { useEffect, useId, useRef } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useSession } from '../api/session';
import { LANGUAGES, useI18n } from '../i18n/i18n';
import type { Locale } from '../i18n/format';
import { SearchBox } from './search-box';
import { ErrorNotice, useAction } from './ui';

const LANGUAGE_NAMES: Record<Locale, string> = { en: 'English', fr: 'Français' };

function LanguageSwitch() {
  const { locale, setLocale, t } = useI18n();
  const id = useId();
  return (
    <div className="language">
      <label htmlFor={id} className="visually-hidden">
        {t('shell.language')}
      </label>
      <select id={id} value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
        {LANGUAGES.map((l) => (
          <option key={l} value={l} lang={l}>
            {LANGUAGE_NAMES[l]}
          </option>
        ))}
      </select>
    </div>
  );
}

function Account() {
  const { me, signOut } = useSession();
  const { t } = useI18n();
  const navigate = useNavigate();
  const out = useAction(async () => {
    await signOut();
    navigate('/');
  });
  if (me === undefined) return <div className="account" aria-hidden="true" />;
  if (me === null) {
    return (
      <div className="account">
        <Link to="/signin" className="button">
          {t('shell.signIn')}
        </Link>
        <Link to="/signup" className="button primary">
          {t('shell.signUp')}
        </Link>
      </div>
    );
  }
  return (
    <div className="account">
      <details className="menu">
        <summary>
          <span className="avatar" aria-hidden="true">
            {me.username.slice(0, 1).toUpperCase()}
          </span>
          <span>{me.username}</span>
        </summary>
        <ul>
          <li>
            <Link to="/settings">{t('shell.accountSettings')}</Link>
          </li>
          <li>
            <Link to="/orgs">{t('shell.organizations')}</Link>
          </li>
          {me.admin && (
            <li>
              <Link to="/admin">{t('shell.administration')}</Link>
            </li>
          )}
          <li>
            <button type="button" className="link-button" onClick={() => void out.run()} disabled={out.busy}>
              {t('shell.signOut')}
            </button>
          </li>
        </ul>
      </details>
      <ErrorNotice error={out.error} />
    </div>
  );
}

/** The frame of every page: header (search, language, account), the page, footer. */
export function Shell() {
  const { t } = useI18n();
  const { me } = useSession();
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  // after a navigation, keyboard and screen-reader users start at the new page, not the old link
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.focus();
    document.querySelectorAll('details.menu[open]').forEach((d) => d.removeAttribute('open'));
  }, [location.pathname]);
  return (
    <>
      <a className="skip-link" href="#main">
        {t('shell.skip')}
      </a>
      <header className="site-header">
        <Link to="/" className="brand" aria-label={t('shell.home')}>
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span>Pier</span>
        </Link>
        <SearchBox />
        <nav aria-label={t('shell.mainNav')} className="main-nav">
          <NavLink to="/" end>
            {t('shell.explore')}
          </NavLink>
          {me && <NavLink to="/dashboard">{t('shell.repositories')}</NavLink>}
        </nav>
        <LanguageSwitch />
        <Account />
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="site-footer">
        <span>{t('shell.footer')}</span>
        <a href="/api/docs">{t('shell.apiDocs')}</a>
      </footer>
    </>
  );
}
