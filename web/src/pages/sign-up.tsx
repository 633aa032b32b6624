import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/browser';
import { useSession } from '../api/session';
import type { HubSettings } from '../api/types';
import { ErrorNotice, Field, Loaded, Submit, useAction, useTitle } from '../components/ui';
import { useLoad } from '../components/use-load';
import { useI18n } from '../i18n/i18n';

export default function SignUp() {
  const { t } = useI18n();
  const { signIn } = useSession();
  const navigate = useNavigate();
  const settings = useLoad((signal) => api<HubSettings>('/settings', { signal }), []);
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [mismatch, setMismatch] = useState(false);
  useTitle(t('signUp.title'));
  const action = useAction(async () => {
    const name = username.trim();
    await api('/users', { method: 'POST', json: { username: name, password, ...(email.trim() ? { email: email.trim() } : {}) } });
    // the account exists: sign in with it, as the contract says sign-up does not
    await signIn(name, password);
    navigate('/settings/tokens?welcome=1', { replace: true });
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setMismatch(password !== repeat);
    if (password !== repeat) return;
    void action.run();
  };
  return (
    <div className="page narrow">
      <h1>{t('signUp.title')}</h1>
      <Loaded state={settings}>
        {(s) =>
          !s.signup_open ? (
            <p className="notice">{t('signUp.closed')}</p>
          ) : (
            <form onSubmit={submit} className="card form">
              <Field label={t('field.username')} name="username" value={username} onChange={setUsername} required autoComplete="username" hint={t('signUp.usernameHint')} maxLength={64} />
              <Field label={t('field.emailOptional')} name="email" type="email" value={email} onChange={setEmail} autoComplete="email" />
              <Field label={t('field.password')} name="password" type="password" value={password} onChange={setPassword} required autoComplete="new-password" hint={t('signUp.passwordHint')} />
              <Field label={t('field.repeatPassword')} name="repeat" type="password" value={repeat} onChange={setRepeat} required autoComplete="new-password" />
              {mismatch && (
                <p className="notice notice-error" role="alert">
                  {t('signUp.mismatch')}
                </p>
              )}
              <ErrorNotice error={action.error} />
              <Submit busy={action.busy}>{t('signUp.submit')}</Submit>
            </form>
          )
        }
      </Loaded>
      <p>
        {t('signUp.haveAccount')} <Link to="/signin">{t('shell.signIn')}</Link>
      </p>
    </div>
  );
}
