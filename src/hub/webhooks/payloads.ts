import type { Kysely } from 'kysely';
import type { Database } from '../../metadata/schema.js';
import { namespaceOf, OFFICIAL_NAMESPACE } from '../../oci/names.js';
import type { OutboxMessage } from '../outbox.js';
import type { WebhookEvent } from './hooks.js';

/** What the body of a delivery is made of: the event, and the repository as it is when the event is queued. */
export interface EventFacts {
  message: OutboxMessage;
  event: WebhookEvent;
  repository: string;
  /** the public URL of this registry (PIER_PUBLIC_URL, else where it listens) */
  baseUrl: string;
}

interface RepositoryFacts {
  isPrivate: boolean;
  starCount: number;
  description: string;
  createdAt: number | null;
}

/**
 * The body of a delivery. `push` is Docker Hub's push webhook (`callback_url`, `push_data`,
 * `repository`), with the manifest's digest and media type added in `push_data`, so a receiver
 * written for Docker Hub works unchanged. Other events come in a CloudEvents-style envelope
 * (`specversion`, `id`, `type`, `source`, `subject`, `time`, `data`).
 */
export async function payloadOf(db: Kysely<Database>, facts: EventFacts): Promise<Record<string, unknown>> {
  const { message, event, repository, baseUrl } = facts;
  const namespace = namespaceOf(repository);
  const name = repository.slice(namespace.length + 1);
  const known = await repositoryFacts(db, repository);
  // what the event says wins (a visibility change, a deleted repository); else the row as it is now
  const isPrivate = typeof message.payload.private === 'boolean' ? message.payload.private : (known?.isPrivate ?? false);
  const repoUrl = `${baseUrl}/r/${repository}`;
  const repositoryJson = {
    repo_name: repository,
    namespace,
    name,
    owner: namespace,
    is_private: isPrivate,
    is_official: namespace === OFFICIAL_NAMESPACE,
    is_trusted: false,
    status: event === 'repository.deleted' ? 'Deleted' : 'Active',
    star_count: known?.starCount ?? 0,
    comment_count: 0,
    description: known?.description ?? '',
    full_description: null,
    dockerfile: '',
    date_created: known?.createdAt !== null && known?.createdAt !== undefined ? Math.floor(known.createdAt / 1000) : null,
    repo_url: repoUrl,
  };
  const payload = message.payload;
  if (event === 'push') {
    const tags = Array.isArray(payload.tags) ? payload.tags.filter((t): t is string => typeof t === 'string') : [];
    return {
      callback_url: `${baseUrl}/api/v1/repositories/${repository}`,
      push_data: {
        pushed_at: Math.floor(message.createdAt / 1000),
        pusher: typeof payload.actor === 'string' ? payload.actor : null,
        tag: tags[0] ?? null,
        tags,
        images: [],
        digest: payload.digest,
        media_type: payload.mediaType,
        size: payload.size,
      },
      repository: repositoryJson,
    };
  }
  const data: Record<string, unknown> = { repository: repositoryJson };
  if (event === 'tag.deleted' || event === 'manifest.deleted') {
    data.digest = payload.digest ?? null;
    data.actor = payload.actor ?? null;
    if (event === 'tag.deleted') data.tag = payload.tag ?? null;
  }
  if (event === 'repository.visibility') data.actor = payload.actor ?? null;
  if (typeof payload.reason === 'string') data.reason = payload.reason;
  return {
    specversion: '1.0',
    id: message.id,
    type: `io.pier.${event}`,
    source: `${baseUrl}/api/v1/repositories/${repository}`,
    subject: repository,
    time: new Date(message.createdAt).toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}

async function repositoryFacts(db: Kysely<Database>, repository: string): Promise<RepositoryFacts | undefined> {
  const row = await db.selectFrom('hub_repositories').select(['private', 'star_count', 'description', 'created_at']).where('name', '=', repository).executeTakeFirst();
  return row && { isPrivate: Number(row.private) === 1, starCount: Number(row.star_count), description: row.description, createdAt: Number(row.created_at) };
}
