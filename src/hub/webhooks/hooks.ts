import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { SecretBox } from '../../auth/sealed-secret.js';
import type { Database } from '../../metadata/schema.js';
import type { Clock } from '../../registry/ports.js';
import { HubError } from '../errors.js';

/**
 * What a hook may ask for. `push` is Docker Hub's push webhook (a tagged manifest pushed); the
 * others arrive in a CloudEvents-style envelope. Events added later (garbage collection, scan
 * results) are added here and in `eventOf` (webhooks.ts).
 */
export const WEBHOOK_EVENTS = ['push', 'tag.deleted', 'manifest.deleted', 'repository.created', 'repository.deleted', 'repository.visibility'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export type HookScope = { kind: 'repository'; name: string } | { kind: 'organization'; name: string };

export interface Webhook {
  id: string;
  scope: HookScope;
  name: string;
  url: string;
  events: WebhookEvent[];
  active: boolean;
  /** why it was disabled by Pier (it kept failing, its target is refused); null when it was not */
  disabledReason: string | null;
  /** deliveries failed for good in a row */
  failures: number;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface HookChange {
  name?: string;
  url?: string;
  events?: WebhookEvent[];
  active?: boolean;
}

type Row = Selectable<Database['webhooks']>;

/**
 * Webhooks of repositories and organisations. The signing secret is generated here, returned
 * once (at creation and at each rotation) and kept sealed with the installation secret: Pier
 * needs it in clear to sign, so it cannot be stored as a hash.
 */
export class WebhookHooks {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly secrets: () => Promise<SecretBox>,
  ) {}

  async create(scope: HookScope, input: { name: string; url: string; events: WebhookEvent[]; active?: boolean }, by: string | null): Promise<{ hook: Webhook; secret: string }> {
    checkHook(input);
    const id = randomUUID();
    const secret = newSecret();
    const now = this.clock.now();
    const row: Row = {
      id,
      scope_kind: scope.kind,
      scope: scope.name,
      name: input.name,
      url: input.url,
      events: JSON.stringify([...new Set(input.events)]),
      active: input.active === false ? 0 : 1,
      secret_sealed: (await this.secrets()).seal(secret, sealContext(id)),
      disabled_reason: null,
      failures: 0,
      created_by: by,
      created_at: now,
      updated_at: now,
    };
    await this.db.insertInto('webhooks').values(row).execute();
    return { hook: toHook(row), secret };
  }

  async get(scope: HookScope, id: string): Promise<Webhook | undefined> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).where('scope_kind', '=', scope.kind).where('scope', '=', scope.name).executeTakeFirst();
    return row && toHook(row);
  }

  async byId(id: string): Promise<Webhook | undefined> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toHook(row);
  }

  async page(scope: HookScope, window: { offset: number; limit: number }): Promise<{ count: number; hooks: Webhook[] }> {
    const query = this.db.selectFrom('webhooks').where('scope_kind', '=', scope.kind).where('scope', '=', scope.name);
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await query.selectAll().orderBy('created_at').orderBy('id').limit(window.limit).offset(window.offset).execute();
    return { count: Number(total?.n ?? 0), hooks: rows.map(toHook) };
  }

  /** The active hooks that want `event` of `repository`: its own and its organisation's. */
  async listening(repository: string, namespace: string, event: WebhookEvent): Promise<Webhook[]> {
    const rows = await this.db
      .selectFrom('webhooks')
      .selectAll()
      .where('active', '=', 1)
      .where((eb) => eb.or([eb.and([eb('scope_kind', '=', 'repository'), eb('scope', '=', repository)]), eb.and([eb('scope_kind', '=', 'organization'), eb('scope', '=', namespace)])]))
      .orderBy('created_at')
      .execute();
    return rows.map(toHook).filter((hook) => hook.events.includes(event));
  }

  /** Changes a hook; turning it on again clears why it was disabled and its failures. */
  async update(scope: HookScope, id: string, change: HookChange): Promise<Webhook> {
    const current = await this.get(scope, id);
    if (!current) throw new HubError('not_found', `no webhook ${id}`);
    checkHook({ name: change.name ?? current.name, url: change.url ?? current.url, events: change.events ?? current.events });
    await this.db
      .updateTable('webhooks')
      .set({
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(change.url !== undefined ? { url: change.url } : {}),
        ...(change.events !== undefined ? { events: JSON.stringify([...new Set(change.events)]) } : {}),
        ...(change.active !== undefined ? { active: change.active ? 1 : 0 } : {}),
        ...(change.active === true ? { disabled_reason: null, failures: 0 } : {}),
        updated_at: this.clock.now(),
      })
      .where('id', '=', id)
      .execute();
    return (await this.get(scope, id))!;
  }

  /** A new secret, returned once; deliveries signed from now on use it. */
  async rotateSecret(scope: HookScope, id: string): Promise<string> {
    if (!(await this.get(scope, id))) throw new HubError('not_found', `no webhook ${id}`);
    const secret = newSecret();
    await this.db
      .updateTable('webhooks')
      .set({ secret_sealed: (await this.secrets()).seal(secret, sealContext(id)), updated_at: this.clock.now() })
      .where('id', '=', id)
      .execute();
    return secret;
  }

  /** The secret in clear, to sign a delivery. */
  async secretOf(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('webhooks').select('secret_sealed').where('id', '=', id).executeTakeFirst();
    return row && (await this.secrets()).open(row.secret_sealed, sealContext(id));
  }

  /** Deletes a hook with its queued deliveries and their attempts. */
  async delete(scope: HookScope, id: string): Promise<void> {
    if (!(await this.get(scope, id))) throw new HubError('not_found', `no webhook ${id}`);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('webhook_attempts').where('delivery', 'in', trx.selectFrom('webhook_deliveries').select('id').where('hook', '=', id)).execute();
      await trx.deleteFrom('webhook_deliveries').where('hook', '=', id).execute();
      await trx.deleteFrom('webhooks').where('id', '=', id).execute();
    });
  }

  /** A delivery succeeded: the count of failures in a row starts again. */
  async succeeded(id: string): Promise<void> {
    await this.db.updateTable('webhooks').set({ failures: 0 }).where('id', '=', id).where('failures', '>', 0).execute();
  }

  /** A delivery failed for good: after `disableAfter` in a row (or at once when `disable` says why), the hook is turned off with the reason. */
  async failed(id: string, reason: string, disableAfter: number, disable = false): Promise<boolean> {
    const row = await this.db.selectFrom('webhooks').select(['failures', 'active']).where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    const failures = Number(row.failures) + 1;
    const off = disable || failures >= disableAfter;
    await this.db
      .updateTable('webhooks')
      .set({
        failures,
        ...(off && Number(row.active) === 1
          ? { active: 0, disabled_reason: disable ? reason : `disabled after ${failures} failed deliveries in a row; the last: ${reason}`, updated_at: this.clock.now() }
          : {}),
      })
      .where('id', '=', id)
      .execute();
    return off;
  }
}

function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

function sealContext(id: string): string {
  return `webhook ${id}`;
}

function checkHook(input: { name: string; url: string; events: readonly string[] }): void {
  if (!input.name.trim() || input.name.length > 100) throw new HubError('invalid', 'name: 1 to 100 characters');
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new HubError('invalid', `url: "${input.url}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HubError('invalid', 'url: an http or https URL');
  if (input.url.length > 2000) throw new HubError('invalid', 'url: at most 2000 characters');
  if (input.events.length === 0) throw new HubError('invalid', `events: at least one of ${WEBHOOK_EVENTS.join(', ')}`);
}

function toHook(row: Row): Webhook {
  return {
    id: row.id,
    scope: { kind: row.scope_kind as HookScope['kind'], name: row.scope },
    name: row.name,
    url: row.url,
    events: (JSON.parse(row.events) as string[]).filter((e): e is WebhookEvent => (WEBHOOK_EVENTS as readonly string[]).includes(e)),
    active: Number(row.active) === 1,
    disabledReason: row.disabled_reason,
    failures: Number(row.failures),
    createdBy: row.created_by,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
