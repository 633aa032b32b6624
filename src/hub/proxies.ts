import type { Kysely, Selectable } from 'kysely';
import type { SecretBox } from '../auth/sealed-secret.js';
import type { Database } from '../metadata/schema.js';
import { isValidRepositoryName, namespaceRange, OFFICIAL_NAMESPACE, type RepositoryName } from '../oci/names.js';
import type { Clock } from '../registry/ports.js';
import type { ProxyDirectory, ProxyRoute } from '../registry/proxy/ports.js';
import { HubError } from './errors.js';

export type ProxyVisibility = 'public' | 'members';
export const PROXY_VISIBILITIES: readonly ProxyVisibility[] = ['public', 'members'];

/** A proxy namespace as administrators see it (the password never leaves the database in clear). */
export interface Proxy {
  namespace: string;
  url: string;
  username: string | null;
  hasPassword: boolean;
  ttlMs: number;
  /** public: anyone may pull through it (as public repositories); members: signed-in accounts only */
  visibility: ProxyVisibility;
  createdAt: number;
  updatedAt: number;
}

export interface ProxySettings {
  url?: string;
  /** both or neither; null removes them */
  credentials?: { username: string; password: string } | null;
  ttlMs?: number;
  visibility?: ProxyVisibility;
}

export interface ProxyServiceOptions {
  /** seals and opens upstream passwords (made from the installation secret on first use) */
  secrets?: () => Promise<SecretBox>;
  /** the proxy namespace that serves names which do not exist here (Pier as a Docker registry mirror) */
  mirrorNamespace?: string;
  /** whether a repository exists here (the registry's index or the hub's own rows): a local one wins over the mirror */
  exists(repository: string): Promise<boolean>;
  /** how long the proxies read from the database serve (another replica's change is seen after this); default 2 s */
  refreshMs?: number;
}

export const DEFAULT_PROXY_TTL_MS = 10 * 60_000;
const NAMESPACE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

type Row = Selectable<Database['proxies']>;

/**
 * Proxy namespaces: an administrator maps a namespace (`hub`, `ghcr`) to an upstream registry, and
 * every repository under it is a copy of the upstream's of the same name (`hub/library/nginx` is
 * `library/nginx` there), fetched on a miss by the registry's cache (registry/proxy/). This is the
 * registry's ProxyDirectory: it answers from memory, refreshed from the table every `refreshMs`
 * (and at once after a change through this process).
 *
 * A proxy namespace is never an account: it cannot be one that exists (or existed), and no account
 * or organisation can take its name while it exists; nobody pushes there.
 */
export class ProxyService implements ProxyDirectory {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #options: ProxyServiceOptions;
  #loaded: { at: number; rows: Map<string, Row> } | undefined;
  #loading: Promise<Map<string, Row>> | undefined;
  readonly #credentials = new Map<string, { version: string; value: { username: string; password: string } | undefined }>();

  constructor(db: Kysely<Database>, clock: Clock, options: ProxyServiceOptions) {
    this.#db = db;
    this.#clock = clock;
    this.#options = options;
  }

  get mirrorNamespace(): string | undefined {
    return this.#options.mirrorNamespace;
  }

  // ---- administration -----------------------------------------------------------------------

  async add(namespace: string, settings: ProxySettings & { url: string }): Promise<Proxy> {
    const problem = namespaceProblem(namespace);
    if (problem) throw new HubError('invalid', problem);
    const url = normalizeUrl(settings.url);
    const ttlMs = settings.ttlMs ?? DEFAULT_PROXY_TTL_MS;
    checkTtl(ttlMs);
    if (await isProxyNamespace(this.#db, namespace)) throw new HubError('conflict', `"${namespace}" is a proxy namespace already`);
    const account = await this.#db.selectFrom('accounts').select('name').where('name', '=', namespace).executeTakeFirst();
    if (account) throw new HubError('conflict', `"${namespace}" is an account or organisation: a proxy needs a namespace of its own`);
    const { from, to } = namespaceRange(namespace);
    const repository = await this.#db
      .selectFrom('repositories')
      .select('name')
      .where('name', '>=', from)
      .where('name', '<', to)
      .limit(1)
      .executeTakeFirst();
    if (repository) throw new HubError('conflict', `the namespace "${namespace}" holds repositories (${repository.name}): a proxy needs an empty one`);
    const now = this.#clock.now();
    const sealed = settings.credentials ? await this.#seal(namespace, settings.credentials.password) : null;
    try {
      await this.#db
        .insertInto('proxies')
        .values({
          namespace,
          url,
          username: settings.credentials?.username ?? null,
          password_sealed: sealed,
          ttl_ms: ttlMs,
          visibility: settings.visibility ?? 'public',
          created_at: now,
          updated_at: now,
        })
        .execute();
    } catch (error) {
      if (/unique|duplicate|constraint/i.test(String((error as Error).message))) throw new HubError('conflict', `"${namespace}" is a proxy namespace already`);
      throw error;
    }
    this.#loaded = undefined;
    return (await this.get(namespace))!;
  }

  async update(namespace: string, settings: ProxySettings): Promise<Proxy> {
    const current = await this.#row(namespace);
    if (!current) throw new HubError('not_found', `no proxy namespace "${namespace}"`);
    const changes: Partial<Row> = { updated_at: Math.max(this.#clock.now(), Number(current.updated_at) + 1) };
    if (settings.url !== undefined) changes.url = normalizeUrl(settings.url);
    if (settings.ttlMs !== undefined) {
      checkTtl(settings.ttlMs);
      changes.ttl_ms = settings.ttlMs;
    }
    if (settings.visibility !== undefined) changes.visibility = settings.visibility;
    if (settings.credentials === null) {
      changes.username = null;
      changes.password_sealed = null;
    } else if (settings.credentials) {
      changes.username = settings.credentials.username;
      changes.password_sealed = await this.#seal(namespace, settings.credentials.password);
    }
    await this.#db.updateTable('proxies').set(changes).where('namespace', '=', namespace).execute();
    this.#loaded = undefined;
    return (await this.get(namespace))!;
  }

  /**
   * Removes a proxy namespace with its cached repositories (their bytes stay for the garbage
   * collector); resolves with the repositories removed.
   */
  async remove(namespace: string, registry: { deleteNamespace(namespace: string): Promise<string[]> }): Promise<string[]> {
    const result = await this.#db.deleteFrom('proxies').where('namespace', '=', namespace).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new HubError('not_found', `no proxy namespace "${namespace}"`);
    this.#loaded = undefined;
    const repositories = await registry.deleteNamespace(namespace);
    const { from, to } = namespaceRange(namespace);
    await this.#db.deleteFrom('proxy_tags').where('repository', '>=', from).where('repository', '<', to).execute();
    await this.#db.deleteFrom('proxy_repositories').where('namespace', '=', namespace).execute();
    return repositories;
  }

  async list(): Promise<Proxy[]> {
    const rows = await this.#db.selectFrom('proxies').selectAll().orderBy('namespace').execute();
    return rows.map(toProxy);
  }

  async get(namespace: string): Promise<Proxy | undefined> {
    const row = await this.#row(namespace);
    return row && toProxy(row);
  }

  /** How many repositories the cache holds for a namespace (administrators see it in the list). */
  async cachedRepositories(namespace: string): Promise<number> {
    const row = await this.#db
      .selectFrom('proxy_repositories')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('namespace', '=', namespace)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  // ---- the registry's directory and the access policy's questions ---------------------------

  async route(repository: RepositoryName): Promise<ProxyRoute | undefined> {
    const rows = await this.#rows();
    if (rows.size === 0) return undefined;
    const slash = repository.indexOf('/');
    if (slash === -1) return undefined;
    const own = rows.get(repository.slice(0, slash));
    return own && this.#routeOf(own, repository, remoteName(own.url, repository.slice(slash + 1)));
  }

  async mirrored(repository: RepositoryName): Promise<RepositoryName | undefined> {
    const namespace = this.#options.mirrorNamespace;
    if (namespace === undefined) return undefined;
    const rows = await this.#rows();
    if (!rows.has(namespace) || rows.has(repository.slice(0, repository.indexOf('/')))) return undefined;
    if (await this.#options.exists(repository)) return undefined;
    const local = `${namespace}/${repository}`;
    return isValidRepositoryName(local) ? (local as RepositoryName) : undefined;
  }

  async upstreamOf(namespace: string): Promise<string | undefined> {
    return (await this.#rows()).get(namespace)?.url;
  }

  /** The visibility of the proxy a repository reads from (the mirror's for a name that does not exist here); undefined when none. */
  async visibilityOf(repository: string): Promise<ProxyVisibility | undefined> {
    const name = repository as RepositoryName;
    const copy = (await this.mirrored(name)) ?? name;
    const namespace = copy.slice(0, copy.indexOf('/'));
    return (await this.#rows()).get(namespace)?.visibility as ProxyVisibility | undefined;
  }

  /** The visibility of a proxy namespace, without the mirror's rule (for names that exist: the catalog). */
  async namespaceVisibility(namespace: string): Promise<ProxyVisibility | undefined> {
    return (await this.#rows()).get(namespace)?.visibility as ProxyVisibility | undefined;
  }

  async #routeOf(row: Row, repository: RepositoryName, remote: string): Promise<ProxyRoute> {
    const version = String(row.updated_at);
    return {
      repository,
      namespace: row.namespace,
      remote,
      upstream: { url: row.url, ...(await this.#credentialsOf(row, version)) },
      ttlMs: Number(row.ttl_ms),
      version,
    };
  }

  async #credentialsOf(row: Row, version: string): Promise<{ credentials?: { username: string; password: string } }> {
    const known = this.#credentials.get(row.namespace);
    if (known?.version === version) return known.value ? { credentials: known.value } : {};
    let value: { username: string; password: string } | undefined;
    if (row.username !== null && row.password_sealed !== null) {
      const box = await this.#secrets();
      value = { username: row.username, password: box.open(row.password_sealed, `proxy ${row.namespace}`) };
    }
    this.#credentials.set(row.namespace, { version, value });
    return value ? { credentials: value } : {};
  }

  async #rows(): Promise<Map<string, Row>> {
    const now = this.#clock.now();
    if (this.#loaded && now - this.#loaded.at < (this.#options.refreshMs ?? 2_000)) return this.#loaded.rows;
    this.#loading ??= this.#db
      .selectFrom('proxies')
      .selectAll()
      .execute()
      .then((rows) => {
        const map = new Map(rows.map((r) => [r.namespace, r]));
        this.#loaded = { at: now, rows: map };
        return map;
      })
      .finally(() => {
        this.#loading = undefined;
      });
    return this.#loading;
  }

  async #row(namespace: string): Promise<Row | undefined> {
    return this.#db.selectFrom('proxies').selectAll().where('namespace', '=', namespace).executeTakeFirst();
  }

  async #seal(namespace: string, password: string): Promise<string> {
    return (await this.#secrets()).seal(password, `proxy ${namespace}`);
  }

  #secrets(): Promise<SecretBox> {
    if (!this.#options.secrets) throw new HubError('invalid', 'upstream credentials need the installation secret, which this process was not given');
    return this.#options.secrets();
  }
}

/** Whether a name is a proxy namespace: accounts and organisations cannot take one. */
export async function isProxyNamespace(db: Kysely<Database>, name: string): Promise<boolean> {
  const row = await db.selectFrom('proxies').select('namespace').where('namespace', '=', name).executeTakeFirst();
  return row !== undefined;
}

function namespaceProblem(namespace: string): string | undefined {
  if (!NAMESPACE.test(namespace) || namespace.length > 64) return 'a proxy namespace is one name component: lowercase letters, digits and single separators (. _ __ -)';
  if (namespace === OFFICIAL_NAMESPACE) return `"${OFFICIAL_NAMESPACE}" is the official namespace; use mirror.namespace to serve library/* from a proxy`;
  return undefined;
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000 || ttlMs > 365 * 86_400_000) throw new HubError('invalid', 'the TTL is 1 second to 365 days');
}

/** `https://registry-1.docker.io/` -> `https://registry-1.docker.io`; http(s) only, no credentials or query in it. */
export function normalizeUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new HubError('invalid', `"${value.slice(0, 100)}" is not a URL: give the upstream as https://host[:port]`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HubError('invalid', 'the upstream URL must be http:// or https://');
  if (url.username || url.password) throw new HubError('invalid', 'give the upstream credentials separately (--username and --password-stdin), not in the URL');
  if (url.search || url.hash) throw new HubError('invalid', 'the upstream URL takes no query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/v2$/, '')}`;
}

/** Docker Hub names official images `library/x`: `hub/nginx` reads `library/nginx` there. */
function remoteName(url: string, name: string): string {
  const host = new URL(url).hostname;
  const dockerHub = host === 'registry-1.docker.io' || host === 'docker.io' || host === 'index.docker.io';
  return dockerHub && !name.includes('/') ? `${OFFICIAL_NAMESPACE}/${name}` : name;
}

function toProxy(row: Row): Proxy {
  return {
    namespace: row.namespace,
    url: row.url,
    username: row.username,
    hasPassword: row.password_sealed !== null,
    ttlMs: Number(row.ttl_ms),
    visibility: row.visibility as ProxyVisibility,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
