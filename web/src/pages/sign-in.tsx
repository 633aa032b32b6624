import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useSession } from '../api/session';
import { ErrorNotice, Field, Submit, useAction, useTitle } from '../components/ui';
import { useI18n } from '../i18n/i18n';
import { safeNext } from './safe-next';


export default function SignIn() {
  const { t } = useI18n();
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  useTitle(t('signIn.title'));
  const action = useAction(async () => {
    await signIn(username.trim(), password);
    navigate(safeNext(params.get('next')), { replace: true });
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run();
  };
  return (
    <div className="page narrow">
      <h1>{t('signIn.title')}</h1>
      {params.get('ended') && <p className="notice">{t('signIn.ended')}</p>}
      <form onSubmit={submit} className="card form">
        <Field label={t('field.username')} name="username" value={username} onChange={setUsername} required autoComplete="username" />
        <Field label={t('field.password')} name="password" type="password" value={password} onChange={setPassword} required autoComplete="current-password" />
        <ErrorNotice error={action.error} />
        <Submit busy={action.busy}>{t('signIn.submit')}</Submit>
      </form>
      <p>
        {t('signIn.noAccount')} <Link to="/signup">{t('shell.signUp')}</Link>
      </p>
      <p className="hint">{t('signIn.forgot')}</p>
    </div>
  );
}
