import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SecretBox } from '../../auth/sealed-secret.js';
import type { Database } from '../../metadata/schema.js';
import { namespaceOf } from '../../oci/names.js';
import type { Clock } from '../../registry/ports.js';
import type { OutboxMessage } from '../outbox.js';
import type { PlanService } from '../plans.js';
import { RoundWorker } from '../round-worker.js';
import { WebhookDeliveries, type Delivery } from './deliveries.js';
import { WebhookHooks, type Webhook, type WebhookEvent } from './hooks.js';
import { NetworkGuard } from './network-guard.js';
import { payloadOf } from './payloads.js';
import { send, type SendResult } from './sender.js';
import { signatureHeader } from './signature.js';

export interface WebhookLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** What a metrics module (or a test) hears of deliveries. */
export interface WebhookObserver {
  attempted?(event: { hook: string; event: string; result: 'succeeded' | 'retry' | 'failed'; status?: number; latencyMs: number }): void;
}

export interface WebhookSettings {
  /** CIDRs that deliveries may reach although they are refused by default (loopback, private, link-local...) */
  allowNetworks?: readonly string[];
  /** the first retry waits this long, doubling each time up to an hour (default 10 s) */
  retryDelayMs?: number;
  /** a delivery is retried until it is this old, then failed (default 24 h) */
  retryForMs?: number;
  /** how long a receiver has to answer (default 10 s) */
  timeoutMs?: number;
  /** deliveries failed for good in a row that disable a hook (default 5) */
  disableAfter?: number;
  /** finished deliveries are kept this long (default 7 days) */
  keepMs?: number;
}

export interface WebhookOptions extends WebhookSettings {
  db: Kysely<Database>;
  clock: Clock;
  plans: Pick<PlanService, 'hasFeature'>;
  secrets: () => Promise<SecretBox>;
  log?: WebhookLog;
  observer?: WebhookObserver;
}

const quiet: WebhookLog = { info: () => {}, warn: () => {} };
const MAX_DELAY_MS = 3600_000;

/**
 * Webhooks: the outbox feeds the delivery queue (`onEvent`: one row per event and hook that wants
 * it, written before the outbox message counts as delivered, so a crash loses nothing), and a
 * worker on every replica delivers it (`start`): claims with a lease, in order per hook and
 * repository, signed, retried with a doubling delay for a bounded time, each attempt recorded. A
 * hook whose deliveries keep failing is disabled with the reason; one whose target the network
 * guard refuses, at once. Webhooks are a plan feature, checked when an event is queued and again
 * when it is sent (a downgrade stops deliveries at once).
 */
export class WebhookService {
  readonly hooks: WebhookHooks;
  readonly deliveries: WebhookDeliveries;
  /** where receivers are told this registry is (set by the server once it listens, unless PIER_PUBLIC_URL says) */
  baseUrl = 'http://localhost:5000';
  readonly #options: WebhookOptions;
  readonly #guard: NetworkGuard;
  readonly #log: WebhookLog;
  readonly #claim = randomUUID();
  readonly #worker: RoundWorker;
  #lastPrune = 0;

  constructor(options: WebhookOptions) {
    this.#options = options;
    this.#guard = new NetworkGuard(options.allowNetworks ?? []);
    this.#log = options.log ?? quiet;
    this.#worker = new RoundWorker(() => this.tick(), (error) => this.#log.warn({ err: error }, 'webhook delivery worker failed; it tries again'), { idleUntilStarted: true });
    this.hooks = new WebhookHooks(options.db, options.clock, options.secrets);
    this.deliveries = new WebhookDeliveries(options.db, options.clock);
  }

  /** Why a URL's literal address is refused (a name is checked when a delivery is sent); undefined when it is not. */
  literalRefusal(url: string): string | undefined {
    try {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      const why = /^[\d.]+$|:/.test(host) ? this.#guard.refusal(host) : undefined;
      return why && `${host} is a ${why} address, which webhooks may not reach (webhooks.allowNetworks allows a range)`;
    } catch {
      return undefined;
    }
  }

  /** The outbox subscriber: queues a delivery of the event to every hook that wants it. */
  async onEvent(message: OutboxMessage): Promise<void> {
    const event = eventOf(message);
    const repository = message.payload.repository;
    if (!event || typeof repository !== 'string') return;
    const namespace = namespaceOf(repository);
    const hooks = await this.hooks.listening(repository, namespace, event);
    if (hooks.length === 0 || !(await this.#options.plans.hasFeature(namespace, 'webhooks'))) return;
    const body = JSON.stringify(await payloadOf(this.#options.db, { message, event, repository, baseUrl: this.baseUrl.replace(/\/+$/, '') }));
    let queued = false;
    for (const hook of hooks) {
      const id = await this.deliveries.enqueue({ hook: hook.id, eventId: message.id, event, ordering: repository, createdAt: message.createdAt, body: () => body });
      queued ||= id !== undefined;
    }
    if (queued) this.notify();
  }

  /** Sends a delivery again (a new delivery with its own id, after what the hook has queued). */
  async redeliver(hook: Webhook, deliveryId: string): Promise<string | undefined> {
    const id = await this.deliveries.redeliver(hook.id, deliveryId);
    if (id) this.notify();
    return id;
  }

  /** Delivers what is due every `intervalMs`, and at once when notified. */
  start(intervalMs: number): void {
    this.#worker.start(intervalMs);
  }

  notify(): void {
    this.#worker.notify();
  }

  async stop(): Promise<void> {
    await this.#worker.stop();
  }

  /** One round: every due delivery, the heads of different hooks and repositories side by side. */
  async tick(): Promise<void> {
    for (;;) {
      const due = await this.deliveries.due(16);
      if (due.length === 0) break;
      const results = await Promise.all(due.map((id) => this.#process(id)));
      if (!results.some(Boolean)) break;
    }
    await this.#prune();
  }

  async #process(id: string): Promise<boolean> {
    const { clock } = this.#options;
    const timeoutMs = this.#options.timeoutMs ?? 10_000;
    // the lease outlasts the request; a replica that dies leaves its deliveries to others soon after
    const delivery = await this.deliveries.claim(id, this.#claim, clock.now() + timeoutMs + 5000);
    if (!delivery) return false;
    const hook = await this.hooks.byId(delivery.hook);
    const namespace = hook && (hook.scope.kind === 'organization' ? hook.scope.name : namespaceOf(hook.scope.name));
    if (!hook || !namespace) {
      await this.deliveries.finish(id, this.#claim, { ok: false, error: 'the webhook was deleted' });
      return true;
    }
    if (!hook.active) {
      await this.deliveries.finish(id, this.#claim, { ok: false, error: `the webhook is disabled${hook.disabledReason ? `: ${hook.disabledReason}` : ''}` });
      return true;
    }
    if (!(await this.#options.plans.hasFeature(namespace, 'webhooks'))) {
      await this.deliveries.finish(id, this.#claim, { ok: false, error: `the plan of ${namespace} does not include webhooks` });
      return true;
    }
    const result = await this.#send(hook, delivery);
    await this.deliveries.recordAttempt(id, {
      attempt: delivery.attempts,
      statusCode: result.status ?? null,
      latencyMs: result.latencyMs,
      error: result.error ?? null,
      responseExcerpt: result.excerpt ?? null,
    });
    if (result.error === undefined) {
      await this.deliveries.finish(id, this.#claim, { ok: true });
      await this.hooks.succeeded(hook.id);
      this.#observe(hook, delivery, 'succeeded', result);
      return true;
    }
    const delay = Math.min(MAX_DELAY_MS, (this.#options.retryDelayMs ?? 10_000) * 2 ** (delivery.attempts - 1));
    const retryAt = clock.now() + delay;
    if (!result.refused && retryAt <= delivery.createdAt + (this.#options.retryForMs ?? 24 * 3600_000)) {
      await this.deliveries.finish(id, this.#claim, { ok: false, error: result.error, retryAt });
      this.#observe(hook, delivery, 'retry', result);
      return true;
    }
    await this.deliveries.finish(id, this.#claim, { ok: false, error: result.error });
    this.#observe(hook, delivery, 'failed', result);
    const disabled = await this.hooks.failed(hook.id, result.error, this.#options.disableAfter ?? 5, result.refused === true);
    if (disabled) this.#log.warn({ webhook: hook.id, scope: hook.scope, reason: result.error }, 'webhook disabled');
    return true;
  }

  async #send(hook: Webhook, delivery: Delivery): Promise<SendResult> {
    let secret: string | undefined;
    try {
      secret = await this.hooks.secretOf(hook.id);
    } catch (error) {
      return { latencyMs: 0, error: (error as Error).message };
    }
    if (secret === undefined) return { latencyMs: 0, error: 'the webhook was deleted', refused: true };
    const t = Math.floor(this.#options.clock.now() / 1000);
    return send(this.#guard, {
      url: hook.url,
      body: delivery.body,
      timeoutMs: this.#options.timeoutMs ?? 10_000,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Pier-Webhook/1',
        'x-pier-event': delivery.event,
        'x-pier-delivery': delivery.id,
        'x-pier-signature': signatureHeader(secret, delivery.body, t),
      },
    });
  }

  #observe(hook: Webhook, delivery: Delivery, result: 'succeeded' | 'retry' | 'failed', sent: SendResult): void {
    this.#options.observer?.attempted?.({ hook: hook.id, event: delivery.event, result, ...(sent.status !== undefined ? { status: sent.status } : {}), latencyMs: sent.latencyMs });
    if (result !== 'succeeded') this.#log.info({ webhook: hook.id, delivery: delivery.id, attempt: delivery.attempts, result, error: sent.error }, 'webhook delivery failed');
  }

  async #prune(): Promise<void> {
    const now = this.#options.clock.now();
    if (now - this.#lastPrune < 3600_000) return;
    this.#lastPrune = now;
    await this.deliveries.prune(now - (this.#options.keepMs ?? 7 * 24 * 3600_000));
  }
}

/** The webhook event of an outbox message, if it is one: `push` is a tagged manifest pushed. */
export function eventOf(message: OutboxMessage): WebhookEvent | undefined {
  switch (message.type) {
    case 'manifest.pushed':
      return Array.isArray(message.payload.tags) && message.payload.tags.length > 0 ? 'push' : undefined;
    case 'manifest.deleted':
    case 'tag.deleted':
    case 'repository.created':
    case 'repository.deleted':
    case 'repository.visibility':
      return message.type;
    default:
      return undefined;
  }
}
