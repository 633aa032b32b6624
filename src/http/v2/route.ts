/**
 * The /v2 router. Paths are parsed from the right, because a repository name may itself contain
 * `manifests`, `blobs` or `tags` as components (`/v2/x/manifests/blobs/tags/list`).
 */
export type V2Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uploadId: string }
  | { kind: 'referrers'; name: string; digest: string };

export const ROUTE_METHODS: Record<V2Route['kind'], readonly string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

/** `path` is the URL path without the query; undefined when it names no /v2 endpoint. */
export function matchV2Route(path: string): V2Route | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return undefined;
  let segments: string[];
  try {
    segments = path.slice(4).split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (segments.length === 1 && segments[0] === '_catalog') return { kind: 'catalog' };
  const n = segments.length;
  if (n < 3) return undefined;
  const last = segments[n - 1]!;
  const before = segments[n - 2]!;
  const nameOf = (count: number) => segments.slice(0, n - count).join('/');
  switch (before) {
    case 'manifests':
      return { kind: 'manifest', name: nameOf(2), reference: last };
    case 'referrers':
      return { kind: 'referrers', name: nameOf(2), digest: last };
    case 'blobs':
      // `POST /v2/<name>/blobs/uploads` without the trailing slash: a digest is never `uploads`.
      return last === 'uploads' ? { kind: 'uploads', name: nameOf(2) } : { kind: 'blob', name: nameOf(2), digest: last };
    case 'tags':
      return last === 'list' ? { kind: 'tags', name: nameOf(2) } : undefined;
    case 'uploads':
      if (n < 4 || segments[n - 3] !== 'blobs') return undefined;
      return last === '' ? { kind: 'uploads', name: nameOf(3) } : { kind: 'upload', name: nameOf(3), uploadId: last };
    default:
      return undefined;
  }
}
