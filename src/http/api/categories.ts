import { z } from 'zod';
import type { ApiContext } from './context.js';
import { answer, type ApiRouter } from './route.js';

const CategorySchema = z.object({ slug: z.string(), name: z.string(), description: z.string() }).meta({ id: 'Category' });

const CreateCategory = z.strictObject({
  slug: z.string().meta({ description: 'lowercase words joined by hyphens: `web-servers`' }),
  name: z.string(),
  description: z.string().optional(),
});

const CategoryPath = z.object({ slug: z.string() });

/** The categories a repository may be in: a list administrators keep (Docker Hub's to start with). */
export function registerCategories(router: ApiRouter, ctx: ApiContext): void {
  const { hub } = ctx;

  router.route({
    method: 'GET',
    path: '/categories',
    summary: 'The categories repositories may be in',
    tags: ['categories'],
    auth: 'public',
    responses: { 200: z.array(CategorySchema) },
    handler: async () => hub.categories.list(),
  });

  router.route({
    method: 'POST',
    path: '/categories',
    summary: 'Add a category',
    tags: ['categories'],
    auth: 'admin',
    body: CreateCategory,
    responses: { 201: CategorySchema },
    problems: ['conflict'],
    handler: async ({ request, caller, body }) => {
      const category = await hub.categories.create(body);
      request.log.info({ category: category.slug, by: caller.account.name }, 'category added');
      return category;
    },
  });

  router.route({
    method: 'DELETE',
    path: '/categories/{slug}',
    summary: 'Remove a category (from every repository too)',
    tags: ['categories'],
    auth: 'admin',
    params: CategoryPath,
    responses: { 204: null },
    problems: ['not-found'],
    handler: async ({ request, caller, params }) => {
      await hub.categories.remove(params.slug);
      request.log.info({ category: params.slug, by: caller.account.name }, 'category removed');
      return answer(204);
    },
  });
}
