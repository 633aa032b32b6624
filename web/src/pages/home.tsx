import { Link } from 'react-router';
import { useSession } from '../api/session';
import { CopyField, useTitle } from '../components/ui';
import { useI18n } from '../i18n/i18n';

/** The front door: what Pier is and the commands to start with, for the reader's own host. */
export default function Home() {
  const { t } = useI18n();
  const { me } = useSession();
  useTitle(t('home.title'));
  const host = window.location.host;
  const user = me?.username ?? t('home.yourName');
  return (
    <div className="page home">
      <section className="hero">
        <h1>{t('home.heading')}</h1>
        <p className="lead">{t('home.lead')}</p>
        {me === null && (
          <p className="actions">
            <Link to="/signup" className="button primary">
              {t('home.createAccount')}
            </Link>
            <Link to="/signin" className="button">
              {t('shell.signIn')}
            </Link>
          </p>
        )}
      </section>
      <section aria-labelledby="home-start">
        <h2 id="home-start">{t('home.start')}</h2>
        <ol className="steps">
          <li>
            <CopyField label={t('home.stepLogin')} text={`docker login ${host}`} />
          </li>
          <li>
            <CopyField label={t('home.stepTag')} text={`docker tag my-image ${host}/${user}/my-image:1.0`} />
          </li>
          <li>
            <CopyField label={t('home.stepPush')} text={`docker push ${host}/${user}/my-image:1.0`} />
          </li>
          <li>
            <CopyField label={t('home.stepPull')} text={`docker pull ${host}/nginx`} />
          </li>
        </ol>
        {me && (
          <p>
            <Link to="/settings/tokens">{t('home.tokensHint')}</Link>
          </p>
        )}
      </section>
    </div>
  );
}
