// Users: find, create, make administrator, reset a password (no mail server), delete.
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import { useSession } from '../../api/session';
import type { AdminUser, Paged } from '../../api/types';
import { Badge, Checkbox, ConfirmButton, DataTable, Empty, ErrorNotice, Field, Loaded, Submit, Toggle, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';

const PAGE_SIZE = 25;

export function AdminUsers() {
  const { t, date } = useI18n();
  const { me } = useSession();
  useTitle(t('admin.users'));
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get('page')) || 1);
  const q = params.get('q') ?? '';
  const [query, setQuery] = useState(q);
  const list = useLoad(
    (signal) => api<Paged<AdminUser>>(`/users?page=${page}&page_size=${PAGE_SIZE}${q ? `&q=${encodeURIComponent(q)}` : ''}`, { signal }),
    [page, q],
  );
  const remove = useAction(async (user: string) => {
    await api(`/users/${seg(user)}`, { method: 'DELETE' });
    list.reload();
  });
  const [resetting, setResetting] = useState<string>();
  const [newPassword, setNewPassword] = useState('');
  const [resetDone, setResetDone] = useState<string>();
  const reset = useAction(async () => {
    await api(`/users/${seg(resetting!)}/password`, { method: 'PUT', json: { new_password: newPassword } });
    setResetDone(resetting);
    setResetting(undefined);
    setNewPassword('');
  });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [email, setEmail] = useState('');
  const [makeAdmin, setMakeAdmin] = useState(false);
  const create = useAction(async () => {
    const name = username.trim();
    await api('/users', { method: 'POST', json: { username: name, password, ...(email.trim() ? { email: email.trim() } : {}) } });
    if (makeAdmin) await api(`/users/${seg(name)}`, { method: 'PATCH', json: { admin: true } });
    setUsername('');
    setPassword('');
    setEmail('');
    setMakeAdmin(false);
    list.reload();
  });
  const search = (event: FormEvent) => {
    event.preventDefault();
    setParams(query.trim() ? { q: query.trim() } : {});
  };
  return (
    <section aria-labelledby="users-heading">
      <h2 id="users-heading">{t('admin.users')}</h2>
      <form role="search" className="inline-form" onSubmit={search}>
        <Field label={t('admin.findUser')} name="q" type="search" value={query} onChange={setQuery} />
        <button type="submit" className="button">
          {t('admin.find')}
        </button>
      </form>
      <ErrorNotice error={remove.error} />
      {resetDone && (
        <p className="notice notice-success" role="status">
          {t('admin.passwordReset', { name: resetDone })}
        </p>
      )}
      <Loaded state={list}>
        {(users) =>
          users.results.length === 0 ? (
            <Empty>{t('admin.noUsers')}</Empty>
          ) : (
            <>
              <DataTable caption={t('admin.users')} columns={[t('field.username'), t('admin.plan'), t('common.created'), t('admin.isAdmin')]} actions>
                {users.results.map((u) => (
                  <tr key={u.username}>
                    <td>
                      {u.username} {u.admin && <Badge kind="admin">{t('profile.administrator')}</Badge>}
                    </td>
                    <td>{u.plan ?? '—'}</td>
                    <td>{date(u.created_at)}</td>
                    <td>
                      <Toggle
                        label={t('admin.adminOf', { name: u.username })}
                        checked={u.admin}
                        save={async (admin) => {
                          await api(`/users/${seg(u.username)}`, { method: 'PATCH', json: { admin } });
                          list.reload();
                        }}
                      />
                    </td>
                    <td className="actions">
                      <button type="button" className="button" onClick={() => setResetting(u.username)}>
                        {t('admin.resetPassword')}
                      </button>
                      {u.username !== me?.username && (
                        <ConfirmButton label={t('admin.deleteUser')} confirmLabel={t('admin.confirmDeleteUser', { name: u.username })} busy={remove.busy} onConfirm={() => void remove.run(u.username)} />
                      )}
                    </td>
                  </tr>
                ))}
              </DataTable>
              <nav className="pager" aria-label={t('common.pages')}>
                {users.previous ? (
                  <Link to={`?page=${page - 1}${q ? `&q=${encodeURIComponent(q)}` : ''}`}>{t('common.previous')}</Link>
                ) : (
                  <span />
                )}
                <span>{t('common.pageOf', { page, pages: Math.max(1, Math.ceil(users.count / PAGE_SIZE)) })}</span>
                {users.next ? <Link to={`?page=${page + 1}${q ? `&q=${encodeURIComponent(q)}` : ''}`}>{t('common.next')}</Link> : <span />}
              </nav>
            </>
          )
        }
      </Loaded>
      {resetting && (
        <form
          className="card form"
          onSubmit={(e) => {
            e.preventDefault();
            void reset.run();
          }}
          aria-labelledby="reset-heading"
        >
          <h3 id="reset-heading">{t('admin.resetPasswordOf', { name: resetting })}</h3>
          <p className="hint">{t('admin.resetHint')}</p>
          <Field label={t('password.new')} name="new_password" type="password" value={newPassword} onChange={setNewPassword} required autoComplete="new-password" />
          <ErrorNotice error={reset.error} />
          <Submit busy={reset.busy}>{t('admin.resetSubmit')}</Submit>{' '}
          <button type="button" className="button" onClick={() => setResetting(undefined)}>
            {t('common.cancel')}
          </button>
        </form>
      )}
      <form
        className="card form"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
        aria-labelledby="user-new"
      >
        <h3 id="user-new">{t('admin.createUser')}</h3>
        <Field label={t('field.username')} name="username" value={username} onChange={setUsername} required />
        <Field label={t('field.emailOptional')} name="email" type="email" value={email} onChange={setEmail} />
        <Field label={t('field.password')} name="password" type="password" value={password} onChange={setPassword} required autoComplete="new-password" />
        <Checkbox label={t('admin.makeAdmin')} checked={makeAdmin} onChange={setMakeAdmin} />
        <ErrorNotice error={create.error} />
        <Submit busy={create.busy}>{t('admin.createUserSubmit')}</Submit>
      </form>
    </section>
  );
}
