import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

/**
 * Paged lists, the Docker Hub way: `?page=N&page_size=M` in (1-based; 25 by default, at most 100)
 * and `{count, next, previous, results}` out, where `next` and `previous` are relative URLs of the
 * neighbouring pages (the request's own query with another `page`) or null. A route declares
 * `query: PageQuery` (or `PageQuery.extend({...})` for its filters) and `responses: { 200: paged(Item) }`,
 * asks the store for `pageWindow(query)`, and answers `pageOf(request, query, count, results)`.
 */
export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;

export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).default(1).meta({ description: 'the page, from 1' }),
  page_size: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .meta({ description: `results per page, at most ${MAX_PAGE_SIZE}` }),
});

export type Page = z.output<typeof PageQuery>;

/** The answer of a paged list of `item`. */
export function paged<T extends z.ZodType>(item: T) {
  return z.object({
    count: z.number().int().meta({ description: 'how many results there are in all pages' }),
    next: z.string().nullable().meta({ description: 'the next page (a URL relative to the server), or null on the last' }),
    previous: z.string().nullable().meta({ description: 'the previous page, or null on the first' }),
    results: z.array(item),
  });
}

/** The rows a page holds: OFFSET and LIMIT for the query. */
export function pageWindow(page: Page): { offset: number; limit: number } {
  return { offset: (page.page - 1) * page.page_size, limit: page.page_size };
}

/**
 * The answer for one page. Past the last page, `results` is empty and `previous` points at the
 * last page that has results, so a client that went too far finds its way back.
 */
export function pageOf<T>(request: FastifyRequest, page: Page, count: number, results: T[]): { count: number; next: string | null; previous: string | null; results: T[] } {
  const last = Math.max(1, Math.ceil(count / page.page_size));
  const next = page.page < last ? page.page + 1 : undefined;
  const previous = page.page > 1 ? Math.min(page.page - 1, last) : undefined;
  return { count, next: pageUrl(request, next), previous: pageUrl(request, previous), results };
}

/** The request's own path and query, with `page` set (kept in its place when it was there). */
function pageUrl(request: FastifyRequest, page: number | undefined): string | null {
  if (page === undefined) return null;
  const url = request.url;
  const question = url.indexOf('?');
  const path = question === -1 ? url : url.slice(0, question);
  const query = new URLSearchParams(question === -1 ? '' : url.slice(question + 1));
  query.set('page', String(page));
  return `${path}?${query.toString()}`;
}
