// Members and their roles.
import { useState, type FormEvent } from 'react';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import type { Member, Paged } from '../../api/types';
import { ConfirmButton, DataTable, Empty, ErrorNotice, Field, Loaded, Select, Submit, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';
import { useOrg } from './context';

export function OrgMembers() {
  const { t, date } = useI18n();
  const { org, manager } = useOrg();
  useTitle(`${org.name}: ${t('orgs.members')}`);
  const list = useLoad((signal) => api<Paged<Member>>(`/orgs/${seg(org.name)}/members`, { signal }), [org.name]);
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<'member' | 'owner'>('member');
  const add = useAction(async () => {
    await api(`/orgs/${seg(org.name)}/members`, { method: 'POST', json: { username: username.trim(), role } });
    setUsername('');
    list.reload();
  });
  const change = useAction(async (member: string, next: 'member' | 'owner') => {
    await api(`/orgs/${seg(org.name)}/members/${seg(member)}`, { method: 'PATCH', json: { role: next } });
    list.reload();
  });
  const remove = useAction(async (member: string) => {
    await api(`/orgs/${seg(org.name)}/members/${seg(member)}`, { method: 'DELETE' });
    list.reload();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void add.run();
  };
  const roleOptions = [
    { value: 'member' as const, label: t('orgs.member') },
    { value: 'owner' as const, label: t('orgs.owner') },
  ];
  return (
    <section aria-labelledby="members-heading">
      <h2 id="members-heading">{t('orgs.members')}</h2>
      <ErrorNotice error={change.error ?? remove.error} />
      <Loaded state={list}>
        {(page) =>
          page.results.length === 0 ? (
            <Empty>{org.name === 'library' ? t('orgs.noMembersLibrary') : t('orgs.noMembers')}</Empty>
          ) : (
          <DataTable caption={t('orgs.members')} columns={[t('field.username'), t('orgs.role'), t('orgs.memberSince')]} actions={manager}>
            {page.results.map((m) => (
              <tr key={m.username}>
                <td>{m.username}</td>
                <td>
                  {manager ? (
                    <Select label={t('orgs.roleOf', { name: m.username })} value={m.role} options={roleOptions} onChange={(next) => void change.run(m.username, next)} />
                  ) : m.role === 'owner' ? (
                    t('orgs.owner')
                  ) : (
                    t('orgs.member')
                  )}
                </td>
                <td>{date(m.since)}</td>
                {manager && (
                  <td>
                    <ConfirmButton label={t('orgs.remove')} confirmLabel={t('orgs.confirmRemove', { name: m.username })} busy={remove.busy} onConfirm={() => void remove.run(m.username)} />
                  </td>
                )}
              </tr>
            ))}
          </DataTable>
          )
        }
      </Loaded>
      {manager && (
        <form className="card form" onSubmit={submit} aria-labelledby="member-add">
          <h3 id="member-add">{t('orgs.addMember')}</h3>
          <Field label={t('field.username')} name="username" value={username} onChange={setUsername} required />
          <Select<'member' | 'owner'> label={t('orgs.role')} name="role" value={role} options={roleOptions} onChange={setRole} />
          <ErrorNotice error={add.error} />
          <Submit busy={add.busy}>{t('orgs.add')}</Submit>
        </form>
      )}
    </section>
  );
}
