import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../metadata/schema.js';
import type { Clock } from '../registry/ports.js';

export type AuditResult = 'ok' | 'failed' | 'refused';

/** One security-relevant action: who, when, from where, on what, with what result. */
export interface AuditEntry {
  id: string;
  at: number;
  /** the account that acted (null: anonymous, or Pier itself) */
  actor: string | null;
  /** how it authenticated: password, pat, session, browser, cli, system */
  via: string | null;
  /** `login`, `token.created`, `member.added`, `repository.visibility`... */
  action: string;
  /** what it acted on: a repository, an account, a token id, a setting */
  target: string | null;
  /** the namespace the action belongs to: its owners (an organisation's) read it */
  namespace: string | null;
  result: AuditResult;
  address: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at' | 'via' | 'target' | 'namespace' | 'address' | 'userAgent' | 'requestId' | 'details'> &
  Partial<Pick<AuditEntry, 'via' | 'target' | 'namespace' | 'address' | 'userAgent' | 'requestId' | 'details'>>;

export interface AuditFilter {
  /** entries of these namespaces, or by these actors (what a reader may see); undefined: everything (administrators) */
  scope?: { namespaces: string[]; actors: string[] };
  actor?: string;
  /** an action, or a prefix ending in `.` (`token.`) */
  action?: string;
  namespace?: string;
  /** epoch ms, inclusive */
  since?: number;
  /** epoch ms, exclusive */
  until?: number;
}

type Row = Selectable<Database['audit_events']>;

/**
 * The audit log: an append-only table of who did what. Entries are written by the surfaces that
 * know the request (the API router, the token endpoint, the CLI) and read by each account for
 * itself, by an organisation's owners for it, and by administrators for everything. Entries
 * older than the retention go.
 */
export class AuditLog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async record(entry: NewAuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_events')
      .values({
        id: randomUUID(),
        at: this.clock.now(),
        actor: entry.actor,
        via: entry.via ?? null,
        action: entry.action,
        target: entry.target ?? null,
        namespace: entry.namespace ?? null,
        result: entry.result,
        address: entry.address ?? null,
        user_agent: entry.userAgent?.slice(0, 500) ?? null,
        request_id: entry.requestId ?? null,
        details: entry.details ? JSON.stringify(entry.details) : null,
      })
      .execute();
  }

  /** Newest first. */
  async page(filter: AuditFilter, window: { offset: number; limit: number }): Promise<{ count: number; entries: AuditEntry[] }> {
    const query = this.#filtered(filter);
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await query.selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(window.limit).offset(window.offset).execute();
    return { count: Number(total?.n ?? 0), entries: rows.map(toEntry) };
  }

  /** Oldest first, in batches: what `pier audit export` writes as JSON lines. */
  async *stream(filter: AuditFilter, batch = 500): AsyncGenerator<AuditEntry> {
    let after: { at: number; id: string } | undefined;
    for (;;) {
      let query = this.#filtered(filter).selectAll();
      if (after) {
        const { at, id } = after;
        query = query.where((eb) => eb.or([eb('at', '>', at), eb.and([eb('at', '=', at), eb('id', '>', id)])]));
      }
      const rows = await query.orderBy('at').orderBy('id').limit(batch).execute();
      for (const row of rows) yield toEntry(row);
      if (rows.length < batch) return;
      const last = rows[rows.length - 1]!;
      after = { at: Number(last.at), id: last.id };
    }
  }

  /** Removes entries older than `retentionMs`; returns how many went. */
  async prune(retentionMs: number): Promise<number> {
    const result = await this.db.deleteFrom('audit_events').where('at', '<', this.clock.now() - retentionMs).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #filtered(filter: AuditFilter) {
    let query = this.db.selectFrom('audit_events');
    const scope = filter.scope;
    if (scope) {
      query = query.where((eb) =>
        eb.or([
          ...(scope.namespaces.length > 0 ? [eb('namespace', 'in', scope.namespaces)] : []),
          ...(scope.actors.length > 0 ? [eb('actor', 'in', scope.actors)] : []),
          // nothing to see: a condition that holds for no row
          ...(scope.namespaces.length + scope.actors.length === 0 ? [eb('id', 'is', null)] : []),
        ]),
      );
    }
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.namespace !== undefined) query = query.where('namespace', '=', filter.namespace);
    if (filter.action !== undefined) {
      const action = filter.action;
      query = action.endsWith('.') ? query.where('action', '>=', action).where('action', '<', `${action.slice(0, -1)}/`) : query.where('action', '=', action);
    }
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    return query;
  }
}

function toEntry(row: Row): AuditEntry {
  return {
    id: row.id,
    at: Number(row.at),
    actor: row.actor,
    via: row.via,
    action: row.action,
    target: row.target,
    namespace: row.namespace,
    result: row.result as AuditResult,
    address: row.address,
    userAgent: row.user_agent,
    requestId: row.request_id,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
  };
}
