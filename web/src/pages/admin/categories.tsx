// Categories: the list repositories are filed under (Explore shows it), kept by administrators.
import { useState } from 'react';
import { api } from '../../api/browser';
import { seg } from '../../api/client';
import type { Category } from '../../api/types';
import { ConfirmButton, DataTable, Empty, ErrorNotice, Field, Loaded, Submit, useAction, useTitle } from '../../components/ui';
import { useLoad } from '../../components/use-load';
import { useI18n } from '../../i18n/i18n';

/** `Databases & Storage` → `databases-and-storage`: the API's slug form (lowercase words joined by hyphens), as the built-in list writes them. */
export function slugOf(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

export function AdminCategories() {
  const { t } = useI18n();
  useTitle(t('admin.categories'));
  const list = useLoad((signal) => api<Category[]>('/categories', { signal }), []);
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [description, setDescription] = useState('');
  const create = useAction(async () => {
    await api('/categories', { method: 'POST', json: { name: name.trim(), slug: slug.trim() || slugOf(name), ...(description.trim() ? { description: description.trim() } : {}) } });
    setName('');
    setSlug('');
    setDescription('');
    list.reload();
  });
  const remove = useAction(async (category: string) => {
    await api(`/categories/${seg(category)}`, { method: 'DELETE' });
    list.reload();
  });
  return (
    <section aria-labelledby="categories-heading">
      <h2 id="categories-heading">{t('admin.categories')}</h2>
      <p className="hint">{t('admin.categoriesIntro')}</p>
      <ErrorNotice error={remove.error} />
      <Loaded state={list}>
        {(categories) =>
          categories.length === 0 ? (
            <Empty>{t('explore.noCategories')}</Empty>
          ) : (
            <DataTable caption={t('admin.categories')} columns={[t('admin.categoryName'), t('admin.categorySlug'), t('teams.description')]} actions>
              {categories.map((c) => (
                <tr key={c.slug}>
                  <td>{c.name}</td>
                  <td className="mono">{c.slug}</td>
                  <td>{c.description}</td>
                  <td className="actions">
                    <ConfirmButton label={t('admin.removeCategory')} confirmLabel={t('admin.confirmRemoveCategory', { name: c.name })} busy={remove.busy} onConfirm={() => void remove.run(c.slug)} />
                  </td>
                </tr>
              ))}
            </DataTable>
          )
        }
      </Loaded>
      <form
        className="card form"
        aria-labelledby="category-new"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <h3 id="category-new">{t('admin.addCategory')}</h3>
        <Field label={t('admin.categoryName')} name="name" value={name} onChange={setName} required />
        <Field label={t('admin.categorySlug')} name="slug" value={slug} onChange={setSlug} hint={slugOf(name) ? t('admin.categorySlugHint', { slug: slugOf(name) }) : t('admin.categorySlugRule')} pattern="[a-z0-9]+(-[a-z0-9]+)*" />
        <Field label={t('teams.description')} name="description" value={description} onChange={setDescription} />
        <ErrorNotice error={create.error} />
        <Submit busy={create.busy}>{t('admin.addCategorySubmit')}</Submit>
      </form>
    </section>
  );
}
