import type { Kysely, Selectable } from 'kysely';
import type { SecretBox } from '../../auth/sealed-secret.js';
import type { Database } from '../../metadata/schema.js';
import type { Clock } from '../../registry/ports.js';
import { HubError } from '../errors.js';
import { normalizeUrl } from '../proxies.js';
import { repositoryPatternProblem, tagPatternProblem } from './patterns.js';

export type ReplicationDirection = 'push' | 'pull';

/** A replication rule as administrators see it (the password stays sealed in the database). */
export interface ReplicationRule {
  name: string;
  /** push: this registry's repositories to the one at `url`; pull: from it into this one */
  direction: ReplicationDirection;
  url: string;
  username: string | null;
  hasPassword: boolean;
  /** repository name patterns (on the source side) */
  repositories: string[];
  /** tag patterns; null: every tag */
  tags: string[] | null;
  /** a namespace prefix on the destination side ('' keeps the names) */
  destination: string;
  /** a full run every this long (ms); null: push rules follow pushes, and runs are started by hand */
  intervalMs: number | null;
  nextRunAt: number | null;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface RuleSettings {
  direction?: ReplicationDirection;
  url?: string;
  /** both or neither; null removes them */
  credentials?: { username: string; password: string } | null;
  repositories?: string[];
  tags?: string[] | null;
  destination?: string;
  intervalMs?: number | null;
  enabled?: boolean;
}

type Row = Selectable<Database['replication_rules']>;

const RULE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const DESTINATION = /^(?:[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*)?$/;

/** Replication rules: kept in `replication_rules`, credentials sealed with the installation secret. */
export class ReplicationRules {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly secrets?: () => Promise<SecretBox>,
  ) {}

  async create(name: string, settings: RuleSettings & { direction: ReplicationDirection; url: string; repositories: string[] }): Promise<ReplicationRule> {
    if (!RULE_NAME.test(name) || name.length > 64) throw new HubError('invalid', 'a rule name has lowercase letters, digits and single separators (. _ -), 64 at most');
    const now = this.clock.now();
    const row: Row = {
      name,
      direction: settings.direction,
      url: normalizeUrl(settings.url),
      username: null,
      password_sealed: null,
      repositories: JSON.stringify(checkRepositories(settings.repositories)),
      tags: settings.tags ? JSON.stringify(checkTags(settings.tags)) : null,
      destination: checkDestination(settings.destination ?? ''),
      interval_ms: checkInterval(settings.intervalMs ?? null),
      next_run_at: settings.intervalMs ? now : null,
      enabled: settings.enabled === false ? 0 : 1,
      created_at: now,
      updated_at: now,
    };
    checkDirection(row.direction);
    if (settings.credentials) {
      row.username = settings.credentials.username;
      row.password_sealed = await this.#seal(name, settings.credentials.password);
    }
    try {
      await this.db.insertInto('replication_rules').values(row).execute();
    } catch (error) {
      if (/unique|duplicate|constraint/i.test(String((error as Error).message))) throw new HubError('conflict', `a replication rule "${name}" exists`);
      throw error;
    }
    return toRule(row);
  }

  async update(name: string, settings: RuleSettings): Promise<ReplicationRule> {
    const current = await this.#row(name);
    if (!current) throw new HubError('not_found', `no replication rule "${name}"`);
    const now = this.clock.now();
    const changes: Partial<Row> = { updated_at: now };
    if (settings.direction !== undefined) changes.direction = checkDirection(settings.direction);
    if (settings.url !== undefined) changes.url = normalizeUrl(settings.url);
    if (settings.repositories !== undefined) changes.repositories = JSON.stringify(checkRepositories(settings.repositories));
    if (settings.tags !== undefined) changes.tags = settings.tags === null ? null : JSON.stringify(checkTags(settings.tags));
    if (settings.destination !== undefined) changes.destination = checkDestination(settings.destination);
    if (settings.intervalMs !== undefined) {
      changes.interval_ms = checkInterval(settings.intervalMs);
      changes.next_run_at = settings.intervalMs === null ? null : now;
    }
    if (settings.enabled !== undefined) changes.enabled = settings.enabled ? 1 : 0;
    if (settings.credentials === null) {
      changes.username = null;
      changes.password_sealed = null;
    } else if (settings.credentials) {
      changes.username = settings.credentials.username;
      changes.password_sealed = await this.#seal(name, settings.credentials.password);
    }
    await this.db.updateTable('replication_rules').set(changes).where('name', '=', name).execute();
    return toRule({ ...current, ...changes });
  }

  /** Removes a rule; its runs stay in the history. */
  async remove(name: string): Promise<void> {
    const result = await this.db.deleteFrom('replication_rules').where('name', '=', name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new HubError('not_found', `no replication rule "${name}"`);
    await this.db.updateTable('replication_runs').set({ status: 'failed', error: 'the rule was removed', finished_at: this.clock.now() }).where('rule', '=', name).where('status', '=', 'queued').execute();
  }

  async list(): Promise<ReplicationRule[]> {
    return (await this.db.selectFrom('replication_rules').selectAll().orderBy('name').execute()).map(toRule);
  }

  async get(name: string): Promise<ReplicationRule | undefined> {
    const row = await this.#row(name);
    return row && toRule(row);
  }

  /** The credentials of a rule, opened (for the client of its other registry). */
  async credentialsOf(name: string): Promise<{ username: string; password: string } | undefined> {
    const row = await this.#row(name);
    if (!row?.username || !row.password_sealed) return undefined;
    return { username: row.username, password: (await this.#box()).open(row.password_sealed, `replication ${name}`) };
  }

  /** Enabled push rules (checked against each push). */
  async pushRules(): Promise<ReplicationRule[]> {
    const rows = await this.db.selectFrom('replication_rules').selectAll().where('direction', '=', 'push').where('enabled', '=', 1).execute();
    return rows.map(toRule);
  }

  /**
   * Rules whose scheduled run is due, each taken by one replica: moving `next_run_at` on is a
   * conditional update that only one of them wins.
   */
  async takeDue(now: number): Promise<ReplicationRule[]> {
    const due = await this.db
      .selectFrom('replication_rules')
      .selectAll()
      .where('enabled', '=', 1)
      .where('interval_ms', 'is not', null)
      .where('next_run_at', '<=', now)
      .execute();
    const taken: ReplicationRule[] = [];
    for (const row of due) {
      const result = await this.db
        .updateTable('replication_rules')
        .set({ next_run_at: now + Number(row.interval_ms) })
        .where('name', '=', row.name)
        .where('next_run_at', '=', row.next_run_at)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) > 0) taken.push(toRule(row));
    }
    return taken;
  }

  async #row(name: string): Promise<Row | undefined> {
    return this.db.selectFrom('replication_rules').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async #seal(name: string, password: string): Promise<string> {
    return (await this.#box()).seal(password, `replication ${name}`);
  }

  #box(): Promise<SecretBox> {
    if (!this.secrets) throw new HubError('invalid', 'credentials of another registry need the installation secret, which this process was not given');
    return this.secrets();
  }
}

function checkDirection(direction: string): ReplicationDirection {
  if (direction !== 'push' && direction !== 'pull') throw new HubError('invalid', 'the direction is push (copy to the other registry) or pull (copy from it)');
  return direction;
}

function checkRepositories(patterns: string[]): string[] {
  if (patterns.length === 0 || patterns.length > 100) throw new HubError('invalid', 'give 1 to 100 repository patterns (alice/app, alice/*, team/**)');
  for (const pattern of patterns) {
    const problem = repositoryPatternProblem(pattern);
    if (problem) throw new HubError('invalid', problem);
  }
  return patterns;
}

function checkTags(patterns: string[]): string[] {
  if (patterns.length === 0 || patterns.length > 100) throw new HubError('invalid', 'give 1 to 100 tag patterns, or none for every tag');
  for (const pattern of patterns) {
    const problem = tagPatternProblem(pattern);
    if (problem) throw new HubError('invalid', problem);
  }
  return patterns;
}

function checkDestination(destination: string): string {
  if (!DESTINATION.test(destination) || destination.length > 128) throw new HubError('invalid', 'the destination is a namespace prefix such as backup or site-b/mirror (or empty to keep the names)');
  return destination;
}

function checkInterval(intervalMs: number | null): number | null {
  if (intervalMs === null) return null;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 60_000) throw new HubError('invalid', 'a schedule runs at most every minute');
  return intervalMs;
}

function toRule(row: Row): ReplicationRule {
  return {
    name: row.name,
    direction: row.direction as ReplicationDirection,
    url: row.url,
    username: row.username,
    hasPassword: row.password_sealed !== null,
    repositories: JSON.parse(row.repositories) as string[],
    tags: row.tags === null ? null : (JSON.parse(row.tags) as string[]),
    destination: row.destination,
    intervalMs: row.interval_ms === null ? null : Number(row.interval_ms),
    nextRunAt: row.next_run_at === null ? null : Number(row.next_run_at),
    enabled: Number(row.enabled) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
