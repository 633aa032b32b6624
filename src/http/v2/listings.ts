import { OciError } from '../../oci/errors.js';
import type { Page } from '../../registry/listings.js';
import type { V2Context } from './context.js';

const MAX_PAGE = 10_000;
const DEFAULT_CATALOG_PAGE = 1000;
/** referrers are answered a page at a time even when the client asks for no `n` */
const DEFAULT_REFERRERS_PAGE = 1000;

export async function listTags(ctx: V2Context): Promise<void> {
  const page = pageOf(ctx.query, undefined);
  const listing = await ctx.registry.listings.tags(ctx.name, page);
  if (listing.next !== undefined) ctx.reply.header('link', nextLink(`/v2/${ctx.name}/tags/list`, page.n!, listing.next));
  await sendJson(ctx, { name: ctx.name, tags: listing.items });
}

export async function listCatalog(ctx: Omit<V2Context, 'name'>): Promise<void> {
  const page = pageOf(ctx.query, DEFAULT_CATALOG_PAGE);
  const listing = await ctx.registry.listings.catalog(page, ctx.catalogFilter);
  if (listing.next !== undefined) ctx.reply.header('link', nextLink('/v2/_catalog', page.n!, listing.next));
  await sendJson(ctx, { repositories: listing.items });
}

export async function listReferrers(ctx: V2Context, digest: string): Promise<void> {
  const artifactType = ctx.query.get('artifactType') ?? undefined;
  const page = pageOf(ctx.query, DEFAULT_REFERRERS_PAGE);
  const { index, next } = await ctx.registry.listings.referrersPage(ctx.name, digest, artifactType, page);
  if (artifactType !== undefined) ctx.reply.header('oci-filters-applied', 'artifactType');
  if (next !== undefined) {
    const filter = artifactType !== undefined ? `&artifactType=${encodeURIComponent(artifactType)}` : '';
    ctx.reply.header('link', nextLink(`/v2/${ctx.name}/referrers/${digest}`, page.n!, next, filter));
  }
  await sendJson(ctx, index, index.mediaType);
}

async function sendJson(ctx: Pick<V2Context, 'reply'>, body: unknown, contentType = 'application/json'): Promise<void> {
  // a Buffer, so that Fastify does not append a charset to the media type
  await ctx.reply.code(200).header('content-type', contentType).send(Buffer.from(JSON.stringify(body)));
}

function pageOf(query: URLSearchParams, defaultN: number | undefined): Page {
  const page: Page = {};
  const n = query.get('n');
  if (n !== null && n !== '') {
    if (!/^\d+$/.test(n)) throw new OciError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, not "${n.slice(0, 20)}"`);
    page.n = Math.min(Number(n), MAX_PAGE);
  } else if (defaultN !== undefined) {
    page.n = defaultN;
  }
  const last = query.get('last');
  if (last !== null && last !== '') page.last = last;
  return page;
}

/** RFC 5988 link to the next page, relative like every Location Pier writes. */
function nextLink(path: string, n: number, last: string, more = ''): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}${more}>; rel="next"`;
}
