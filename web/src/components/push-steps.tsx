// The docker commands that put an image into a repository: shown where a newcomer needs them (a
// repository with nothing pushed yet, an empty dashboard) and, for those who may push, as the way to
// push a new tag. The same host as the page: Pier's registry and UI share an origin.
import { Link } from 'react-router';
import { displayName } from '../pages/repository/paths';
import { useI18n } from '../i18n/i18n';
import { CopyField } from './ui';

/** `host/namespace/name`, as docker names it (official images without `library/`). */
function reference(namespace: string, name: string): string {
  return `${window.location.host}/${displayName(namespace, name)}`;
}

/** The three steps of a first push: sign in, tag a local image with the repository's name, push. */
export function PushSteps({ namespace, name, tag = '1.0' }: { namespace: string; name: string; tag?: string }) {
  const { t } = useI18n();
  const target = `${reference(namespace, name)}:${tag}`;
  return (
    <>
      <ol className="steps">
        <li>
          <CopyField label={t('push.login')} text={`docker login ${window.location.host}`} />
        </li>
        <li>
          <CopyField label={t('push.tag')} text={`docker tag my-image ${target}`} />
        </li>
        <li>
          <CopyField label={t('push.push')} text={`docker push ${target}`} />
        </li>
      </ol>
      <p className="hint">
        {t('push.tokenHint')} <Link to="/settings/tokens">{t('push.tokenLink')}</Link>
      </p>
    </>
  );
}

/** For a repository that holds images already: how to push another tag. */
export function PushTagCommand({ namespace, name }: { namespace: string; name: string }) {
  const { t } = useI18n();
  return <CopyField label={t('push.newTag')} text={`docker push ${reference(namespace, name)}:${t('push.tagName')}`} />;
}
